"""Reference data (currency codes, label lexicons) shipped with the pipeline."""
