"""Claude writes or refines a policy; Nectar verifies every proposal before anyone sees it.

Layers: :mod:`.prompt` builds the request (reference, untrusted corpus data, intent),
:mod:`.client` talks to the Messages API through the official SDK and turns every failure
into a :class:`~pytest_nectar.errors.ClaudeError`, :mod:`.refine` runs the
propose-verify-refine loop, :mod:`.verify` builds the verification (parse, check, compile,
``nectar prove``) and :mod:`.findings` writes proof failures back for Claude,
:mod:`.project` writes policy, rules and lock all or nothing, :mod:`.change` summarises the
change with ``nectar diff``'s report, and :mod:`.patch` turns the result into a ``git am``
patch and a pull-request body.  The SDK is imported
only by :mod:`.client`, so the rest stays importable without it.
"""

from __future__ import annotations
