"""The image record, its statuses and allowed transitions, its fields, and the format rules.

Everything public is importable from ``glance.domain`` itself.
"""

from glance.domain.fields import (
                                  BIGINT_MAX,
                                  BY_NAME,
                                  FIELDS,
                                  INTEGER_MAX,
                                  SETTABLE,
                                  SORT_DIRS,
                                  SORT_KEYS,
                                  V1_ORDER,
                                  V2_VIRTUAL_KEYS,
                                  Field,
                                  v1_fields,
                                  v1_names,
                                  v2_fields,
)
from glance.domain.lifecycle import (
                                  ACTIVE,
                                  DEACTIVATED,
                                  DELETED,
                                  HAS_DATA,
                                  IMPORTING,
                                  KILLED,
                                  LOCATION_ACTIVE,
                                  LOCATION_DELETING,
                                  LOCATION_SAVING,
                                  MEMBER_STATUSES,
                                  PENDING_DELETE,
                                  QUEUED,
                                  SAVING,
                                  STATUSES,
                                  TASK_STATUSES,
                                  TRANSITIONS,
                                  UNFINISHED_TASK,
                                  UPLOADING,
                                  check_transition,
)
from glance.domain.records import (
                                  ANY_MEMBERSHIP,
                                  TIME_OPERATORS,
                                  Image,
                                  ImageQuery,
                                  Location,
                                  Membership,
                                  Task,
                                  new_image_id,
                                  utcnow,
)
from glance.domain.rules import (
                                  AMAZON_FORMATS,
                                  CONTAINER_FORMATS,
                                  DISK_FORMATS,
                                  MAX_NAME_LENGTH,
                                  TYPE_FORMATS,
                                  VISIBILITIES,
                                  apply_format_rules,
                                  check_text,
                                  is_storable,
                                  validate_image_id,
)

__all__ = [
    "ACTIVE", "AMAZON_FORMATS", "ANY_MEMBERSHIP", "BIGINT_MAX", "BY_NAME", "CONTAINER_FORMATS",
    "DEACTIVATED", "DELETED", "DISK_FORMATS", "FIELDS", "Field", "HAS_DATA", "IMPORTING",
    "INTEGER_MAX", "Image", "ImageQuery", "KILLED", "LOCATION_ACTIVE", "LOCATION_DELETING",
    "LOCATION_SAVING", "Location", "MAX_NAME_LENGTH", "MEMBER_STATUSES", "Membership",
    "PENDING_DELETE", "QUEUED", "SAVING", "SETTABLE", "SORT_DIRS", "SORT_KEYS", "STATUSES",
    "TASK_STATUSES", "TIME_OPERATORS", "TRANSITIONS", "TYPE_FORMATS", "Task", "UNFINISHED_TASK",
    "UPLOADING", "V1_ORDER", "V2_VIRTUAL_KEYS", "VISIBILITIES", "apply_format_rules", "check_text",
    "check_transition", "is_storable", "new_image_id", "utcnow", "v1_fields", "v1_names",
    "v2_fields", "validate_image_id"]
