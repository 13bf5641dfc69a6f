"""Nectar reports: ``nectar explain`` and ``nectar diff`` as text, Markdown, HTML and JSON.

Flow: :mod:`.subject` reads a policy or rules file (or ``git:REV:path``), :mod:`.analysis`
proves it once on the corpus, :mod:`.explain`/:mod:`.diff` compute the report data model
(:mod:`.model`), :mod:`.layout` lays it out as neutral blocks, and :mod:`.render` writes it.
"""
