"""The imagefam rule language: grammar, AST, type checker, compiler and policy loading.

Data flows one way: text -> AST (:mod:`.parser`) -> typed AST (:mod:`.checker`)
-> closures (:mod:`.compiler`), assembled into a :class:`~imagefam.rules.policy.Policy`.
"""
