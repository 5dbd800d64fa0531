"""Stage 3, the compiler: a bound program -> a CompiledModel, plain callables on autograd.numpy (the
batched log joint, the forward simulator, constrain/unconstrain); one handler per statement kind,
shapes and bounds resolved apart from code generation, discrete latents summed out (enumeration) or
given sites of their own (counts)."""
