"""The synthetic order-exception history: wording and value pools as data files, and the code that draws cases.

``eval/generate_history.py`` is the command. The data sits next to this package's modules: ``wording.yaml``
(every text), ``pools.yaml`` (the values drawn into texts and orders) and ``mix.yaml`` (shares and weights).
The labels and their actions are the service's own taxonomy (``guardrails/taxonomy.yaml``); each label's
facts and action weights are a module of ``eval.history.labels``.
"""
