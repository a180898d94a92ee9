"""LinkedIn profile parser: guest pages, logged-in pages and vendor JSON records -> positions, education,
certifications and profile length. Contract and statuses: docs/parser.md. CLI: ``python -m parsers.linkedin``.
"""

from parsers.linkedin.parser import DEFAULT_MAX_BYTES, parse_profile, parse_vendor_json_record
from parsers.linkedin.result import CONTRACT_KEYS, LAYOUTS, STATUSES

__all__ = ["CONTRACT_KEYS", "DEFAULT_MAX_BYTES", "LAYOUTS", "STATUSES", "parse_profile", "parse_vendor_json_record"]
