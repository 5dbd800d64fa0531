"""Stage 2, the model: the tables the compiler reads (distributions, transforms, built-in and user
functions, their special functions and fused log densities), expressions evaluated over them, data
files read (data) and data bound to a checked program, every value checked against its declaration
(binding)."""
