"""The world and the data plane: building and running a simulation, serving requests.

``simulation`` builds the world and returns a :class:`~bluegreen_sim.results.Result`;
``dataplane`` (with ``kernels``, ``probes`` and ``tasktable``) serves each window's requests;
``arrivals`` draws them; ``recorder`` keeps what users read. Imports only the scenario, the AWS
model and the Result container; never plotting, narration, analysis, interop or the CLI.
"""
