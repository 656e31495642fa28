"""The column names kappa reserves in a CDC merge: imported by the spec models (to refuse them in
a change feed) and by the typed plan and the merge itself, so it depends on nothing."""

#: Prefix reserved for columns kappa adds while it merges; change feeds may not use it.
RESERVED_PREFIX = "__kappa_"
#: History columns of an SCD type 2 target.
START_AT = "__START_AT"
END_AT = "__END_AT"
