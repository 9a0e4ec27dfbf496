"""Foundation helpers: seeding, image conversion, atomic files, provenance. Imports nothing above L0."""
