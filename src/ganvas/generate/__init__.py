"""Creating with a trained generator: seeds -> images, truncation, interpolation. Never imports train."""
