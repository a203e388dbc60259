"""Stage `measure`: how well and how fast the chain reads. `evaluate` and `scoring` (accuracy on
labelled documents), `bench` (pages/min against bare Tesseract), `pool` (worker processes)."""
