"""Board top levels and the bitstream build (`make bitstream BOARD=...`)."""
