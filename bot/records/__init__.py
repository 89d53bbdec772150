"""Product and licence records: import, lookups, entitlement, and the facts in a message.

One module per job; the names other code uses are re-exported here
(`from bot import records; records.lookup_version(...)`):

- keys.py          licence keys: normalise, validate, mask, find one in a message
- versions.py      version numbers: compare, match to the records, find one in a message
- csv_import.py    the CSV files: import products and licences (all or nothing)
- aliases.py       the admin's other names for products (aliases.csv)
- lookup.py        products, a version's status, a licence, the nearest names
- entitlements.py  whether standard support covers it (rules 4.3.2, 4.5a/b, 2.4)
- names.py         the forms a product name takes, typo distance
- facts.py         product, version and key in a message (spaCy, from the products table)
- words.py         the word lists of content/lexicon/records.yml

Licence keys are secrets: nothing here logs or prints one; messages and
dataclass fields hold only `mask_key(key)`, which shows the last group.
"""

from bot.records.aliases import ALIASES, read_aliases
from bot.records.csv_import import (
    SAMPLE_LICENCES,
    SAMPLE_PRODUCTS,
    ImportFailed,
    ImportResult,
    Problem,
    import_licences,
    import_products,
    records_version,
)
from bot.records.entitlements import (
    BUSINESS_RULES,
    END_OF_LIFE_RULES,
    END_OF_LIFE_SERVICE,
    HOME_RULES,
    Entitlement,
    entitlement,
)
from bot.records.keys import KEY, KEY_GROUP, KEY_SEPARATOR, is_key, mask_key, normalise_key
from bot.records.lookup import (
    LicenceStatus,
    ProductRecord,
    VersionStatus,
    find_products,
    lookup_licence,
    lookup_version,
    nearest_products,
)

__all__ = [
    "ALIASES",
    "BUSINESS_RULES",
    "END_OF_LIFE_RULES",
    "END_OF_LIFE_SERVICE",
    "HOME_RULES",
    "KEY",
    "KEY_GROUP",
    "KEY_SEPARATOR",
    "SAMPLE_LICENCES",
    "SAMPLE_PRODUCTS",
    "Entitlement",
    "ImportFailed",
    "ImportResult",
    "LicenceStatus",
    "Problem",
    "ProductRecord",
    "VersionStatus",
    "entitlement",
    "find_products",
    "import_licences",
    "import_products",
    "is_key",
    "lookup_licence",
    "lookup_version",
    "mask_key",
    "nearest_products",
    "normalise_key",
    "read_aliases",
    "records_version",
]
