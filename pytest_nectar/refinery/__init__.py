"""Refinery rules: an exact model of Honeycomb Refinery's rules files and decisions.

Layers (each module imports only those above it):

- :mod:`.values` Go ``%v``, ``Atoi``/``ParseFloat``/``ParseBool`` and untyped ``compare()``;
  :mod:`.regex` Go RE2 ``matches``; :mod:`.deterministic` the SHA-1 DeterministicSampler.
- :mod:`.rules_model` the frozen model (``RulesFile``, ``SamplerEntry``, sampler configs,
  ``Rule``, ``Condition``, ``select_sampler``).
- :mod:`.yaml_loader` (yaml.v3 decoding with positions), :mod:`.rules_reader`
  (``read_rules``, ``read_rules_text``, ``rules_from_data``), :mod:`.rules_validate`
  (``validate_path``, ``validate_loaded``: Refinery's errors, plus :mod:`.rules_warnings`),
  :mod:`.rules_writer` (``write_rules``).
- :mod:`.conditions` (Refinery's ``Init``) and :mod:`.reference` (``Evaluator``, ``decide``,
  ``Decision``); :mod:`.samplers` the stateful dynamic-family samplers.

Nothing is imported here, so that importing a sub-module stays cheap.
"""

from __future__ import annotations
