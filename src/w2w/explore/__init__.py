"""`w2w explore`: a local web app on the space (pick, sample, edit, invert, download)."""
