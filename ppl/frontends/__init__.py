"""Stage 6, front ends: the Python API (ppl.compile, ppl.load, Model.fit), the command line, the REPL
and its session, the notebook magic and the terminal helpers they share."""
