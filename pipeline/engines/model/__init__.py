"""What every model engine shares, however it calls its model: prompt versions, the schema as a
grammar, decoding an answer, merging readings, the re-ask loop. No torch, no HTTP here."""
