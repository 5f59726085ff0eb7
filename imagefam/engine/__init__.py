"""The engine: state and request models, simulation, checker, resolver, reports, renderers."""
