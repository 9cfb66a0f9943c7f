"""Model engines shared by plug-ins of different kinds (the `local` sampler, the `logprob` scorer)."""
