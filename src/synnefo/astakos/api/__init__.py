"""HTTP APIs of the identity service: Astakos identity v2.0, Keystone v3, account v1.0."""
