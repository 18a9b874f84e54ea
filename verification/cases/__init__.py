"""Case generators: what goes into the design and what the golden model says must come out."""
