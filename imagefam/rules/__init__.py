"""The imagefam rule language: grammar, AST, type checker, compiler and policy loading. It knows
nothing of ECS: what rules can name comes from an injected environment (:mod:`.environment`).

Data flows one way: text -> AST (:mod:`.parser`) -> typed AST (:mod:`.checker`)
-> closures (:mod:`.compiler`), assembled into a :class:`~imagefam.rules.policy.Policy`.
"""
