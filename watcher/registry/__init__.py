"""The edge to ClinicalTrials.gov: the API v2 and history clients, the rate limit they share,
and the replay registry.

The rule of this folder: it is the only place that speaks HTTP to a registry (with the webhook
transport, the only httpx user), and it turns every transport failure into the `RegistryError`
tree. The replay registry and its server let tests, benchmarks and `trialwatch demo` run the
real client on 127.0.0.1 (docs/ARCHITECTURE.md).
"""
