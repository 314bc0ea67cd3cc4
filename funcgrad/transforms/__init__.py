"""Function transformations: each is an interpreter over traced programs."""
