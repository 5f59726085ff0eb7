"""The imagefam rule language: grammar, AST, type checker, compiler and policy loading. It knows
nothing of ECS: what rules can name comes from an injected environment (:mod:`.environment`).

Data flows one way: text -> AST (:mod:`.parser`) -> a typed result per scope (:mod:`.typecheck`)
-> closures (:mod:`.compiler`), assembled into a :class:`~imagefam.rules.compiled.Policy` by the
stages of :mod:`.policy`.
"""
