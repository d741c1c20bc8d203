#!/usr/bin/env python3
"""Cross-check our Rust codec against kafka-python's protocol classes.

Usage: kafka_python_crosscheck.py SAMPLES.jsonl

Each line of SAMPLES.jsonl is one message our codec produced (written by
tests/tests/kafka_python_crosscheck.rs):

    {"name": "MetadataRequest", "version": 12,
     "hex": "<body bytes: no header, no size prefix>",
     "value": {<our JSON rendering, see kafka-protocol/src/json.rs>}}

kafka-python 3.x builds its codecs from Kafka's own JSON message definitions
(kafka/protocol/schemas/resources/*.json), so it is an independent
implementation of the same spec. For every sample we:

  1. decode our bytes with kafka-python (every byte must be consumed) and
     compare each field it knows at that version with our JSON value;
  2. build kafka-python's object from our JSON value and encode it: the bytes
     must equal ours exactly;
  3. re-encode the object decoded in step 1: again the bytes must equal ours.

Exit status: 0 when every checked sample agrees and at least MIN_CHECKED were
checked, 1 otherwise. Only kafka-python and the standard library are used.
"""

import base64
import collections
import io
import json
import re
import sys
import uuid

# Importing these packages defines (and registers) every message class
# kafka-python has; the classes load their JSON schema at import time.
import kafka.protocol.admin  # noqa: F401
import kafka.protocol.consumer  # noqa: F401
import kafka.protocol.metadata  # noqa: F401
import kafka.protocol.producer  # noqa: F401
from kafka import __version__ as KAFKA_PYTHON_VERSION
from kafka.protocol.api_data import ApiData
from kafka.protocol.api_message import ApiMessage
from kafka.protocol.schemas import load_json
from kafka.protocol.schemas.fields.array import ArrayField
from kafka.protocol.schemas.fields.codecs import UUID as UuidCodec
from kafka.protocol.schemas.fields.codecs import BitField, Bytes, Float64
from kafka.protocol.schemas.fields.struct import StructField
from kafka.protocol.schemas.fields.struct_array import StructArrayField

# A run that checks fewer samples than this has silently lost coverage (for
# instance because class lookup broke), so it fails even without mismatches.
MIN_CHECKED = 500
MAX_FAILURES_SHOWN = 30

# kafka-python's schema files are newer than the Kafka 4.0.0 definitions our
# codec is pinned to (they match Kafka 4.3's, plus a few fields of versions
# Kafka 4.0 dropped, re-added by kafka-python). Versions above 4.0's maximum
# are never sampled, and every field present in both at a sampled version has
# the same version range (checked: any field kafka-python has at a version
# that our JSON lacks is reported as a failure, not skipped). So no
# (message, version, field) needs to be excused as release drift today. If a
# future kafka-python release changes a field within a version we sample, add
# it here with the evidence, as {(message, version): reason}; such samples are
# counted as skipped with that reason.
SCHEMA_DRIFT = {}

ZERO_UUID_TEXT = base64.urlsafe_b64encode(bytes(16)).decode().rstrip('=')


# --------------------------------------------------------------------------
# Finding kafka-python's class for a message
# --------------------------------------------------------------------------

def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def kafka_python_classes():
    """Message name -> kafka-python's primary (unversioned) class.

    Indexing a class by version (`Cls[3]`) creates wrapper subclasses; they
    carry a `_class_version` and are skipped. Only classes that own a JSON
    schema (`_json` in their own namespace) are real message classes.
    """
    classes = {}
    for base in (ApiMessage, ApiData):
        for cls in _subclasses(base):
            if '_json' in cls.__dict__ and cls.__dict__.get('_class_version') is None:
                classes[cls.name] = cls
    return classes


def valid_versions(cls):
    """The versions the schema file defines (kafka-python widens the *struct*
    range of request/response messages to start at 0 so it can talk to old
    brokers, but the fields below the file's minimum are not defined)."""
    return cls._valid_versions  # pylint: disable=protected-access


# --------------------------------------------------------------------------
# Field metadata
# --------------------------------------------------------------------------

def norm(name):
    """Key for matching our snake_case names with kafka-python's.

    Both derive from Kafka's CamelCase field names; comparing without
    underscores and case makes the match independent of how each side splits
    acronyms."""
    return name.replace('_', '').lower()


# id(kafka-python field object) -> Kafka's field name, from the unpatched
# schema file; filled by register_names(). The field objects live as long as
# their classes, so the ids stay valid.
KAFKA_NAMES = {}


def register_names(struct, raw_fields):
    """Record, for each kafka-python field of a message, the Kafka field name
    in the *unpatched* schema file.

    Some classes patch their schema (`json_patch`): MetadataResponse and
    DescribeClusterResponse rename ClusterAuthorizedOperations /
    TopicAuthorizedOperations to `authorized_operations`, and those and
    DescribeGroupsResponse's AuthorizedOperations become a 'bitfield' type
    (ListOffsetsRequest and CreatePartitionsRequest only change a default,
    which matters to nothing here since every in-version field is given a
    value). The patch never adds, removes or reorders fields, so
    the unpatched file can be walked in parallel to recover Kafka's names,
    which are what our JSON keys derive from.
    """
    def walk(fields, raws):
        fields = list(fields)
        assert len(fields) == len(raws), 'patched schema changed field count'
        for field, raw in zip(fields, raws):
            KAFKA_NAMES[id(field)] = raw['name']
            if isinstance(field, (StructField, StructArrayField)):
                walk(field.fields.values(), raw.get('fields', []))

    walk(struct.fields.values(), raw_fields)


def field_key(field):
    """The normalised key our JSON uses for a kafka-python field."""
    return norm(KAFKA_NAMES[id(field)])


class Schema:
    """kafka-python's class for one message, with Kafka's field names
    registered, and what the check saw of it."""

    def __init__(self, cls):
        self.cls = cls
        self.struct = cls._struct  # pylint: disable=protected-access
        register_names(self.struct, load_json(cls.name)['fields'])
        # Our JSON keys (path with indices dropped) that no kafka-python field
        # matches: fields kafka-python's schema does not have at any version.
        self.unknown_keys = set()
        self.compared = 0  # field values compared


def kind(field):
    """What the field holds, for conversions: 'struct', 'struct_array',
    'array' (of a simple type) or 'simple'."""
    if isinstance(field, StructArrayField):
        return 'struct_array'
    if isinstance(field, StructField):
        return 'struct'
    if isinstance(field, ArrayField):
        return 'array'
    return 'simple'


def simple_of(field):
    return field.array_of if kind(field) == 'array' else field


# --------------------------------------------------------------------------
# Conversions between our JSON rendering and kafka-python's values
# --------------------------------------------------------------------------
#
# Our JSON: bytes/records as lowercase hex, UUIDs as Kafka's URL-safe base64
# without padding, authorized-operations bitfields as the raw int32.
# kafka-python: bytes as `bytes`; UUIDs as uuid.UUID with the all-zero id
# decoded as None (it writes None back as zeros); fields patched to
# 'bitfield' as a set of bit positions, with {31} (INT32_MIN, Kafka's
# "not requested" sentinel) as None.

def uuid_from_ours(text):
    raw = base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    value = uuid.UUID(bytes=raw)
    # Follow kafka-python's convention (zero id is None): a tagged uuid whose
    # default is None would otherwise be written for a zero id.
    return None if value.int == 0 else value


def uuid_to_ours(value):
    if value is None:
        return ZERO_UUID_TEXT
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip('=')


def bitfield_from_ours(value):
    bits = BitField.from_32_bit_field(value & 0xFFFFFFFF)
    return None if bits == {31} else bits


def bitfield_to_ours(bits):
    if bits is None:
        bits = {31}
    value = BitField.to_32_bit_field(bits)
    return value - (1 << 32) if value >= 1 << 31 else value


def simple_from_ours(field, value):
    codec = field._type  # pylint: disable=protected-access
    if value is None:
        return None
    if codec is UuidCodec:
        return uuid_from_ours(value)
    if codec is Bytes:
        return bytes.fromhex(value)
    if codec is BitField:
        return bitfield_from_ours(value)
    if codec is Float64:
        return float(value)
    return value


def simple_to_ours(field, value):
    """kafka-python value -> the form our JSON uses, for comparison."""
    codec = field._type  # pylint: disable=protected-access
    if codec is UuidCodec:
        return uuid_to_ours(value)
    if codec is BitField:
        return bitfield_to_ours(value)
    if value is None:
        return None
    if codec is Bytes:
        return bytes(value).hex()
    return value


def default_to_ours(field):
    """kafka-python's default for a field, in our JSON form."""
    default = field.default
    k = kind(field)
    if k in ('struct', 'struct_array', 'array'):
        return default  # [] or None
    return simple_to_ours(field, default)


# --------------------------------------------------------------------------
# Comparing a decoded kafka-python object with our JSON value
# --------------------------------------------------------------------------

class Report:
    """Failures of one sample: (path, ours, theirs, what)."""

    def __init__(self):
        self.problems = []

    def add(self, path, ours, theirs, what='value differs'):
        self.problems.append((path, ours, theirs, what))


def match_keys(schema, struct, ours, version, path, report, record_unknown=True):
    """kafka-python field -> our JSON key, for the fields of `struct`.

    A field kafka-python has at this version that our JSON lacks is a
    failure: either our definition misses a field, or the schemas drifted
    and SCHEMA_DRIFT must say so explicitly.
    """
    by_norm = {norm(k): k for k in ours}
    keys = {}
    for field in struct.fields.values():
        key = by_norm.pop(field_key(field), None)
        if key is None:
            if field.for_version_q(version):
                report.add(path + field.name, '<absent>', '<field at this version>',
                           'kafka-python has a field our JSON lacks')
            continue
        keys[field.name] = key
    for key in by_norm.values() if record_unknown else ():
        schema.unknown_keys.add(re.sub(r'\[\d+\]', '[]', path + key))
    return keys


def compare_struct(schema, struct, ours, theirs, version, path, report):
    keys = match_keys(schema, struct, ours, version, path, report)
    for field in struct.fields.values():
        key = keys.get(field.name)
        if key is None:
            continue
        fpath = path + key
        if not field.for_version_q(version):
            # Our JSON renders every field, holding its default when the
            # version lacks it. A non-default value here would mean our
            # version range for the field differs from Kafka's.
            if not same_default(field, ours[key]):
                report.add(fpath, ours[key], default_to_ours(field),
                           'our value is not the default at a version kafka-python lacks the field')
            continue
        compare_field(schema, field, ours[key], getattr(theirs, field.name), version, fpath, report)


def same_default(field, ours):
    if kind(field) == 'struct' and isinstance(ours, dict):
        # A struct (not array) field out of version: we render the struct
        # with every member at its default, kafka-python's default is None
        # (its StructField has no per-member default object).
        by_norm = {norm(k): v for k, v in ours.items()}
        return all(field_key(sub) in by_norm and same_default(sub, by_norm[field_key(sub)])
                   for sub in field.fields.values())
    if kind(field) in ('struct', 'struct_array', 'array'):
        # Kafka defaults arrays to empty, a few nullable ones to null. Which
        # of the two an array holds at a version that lacks it never reaches
        # the wire, so only "no elements" is required.
        return ours in ([], None)
    return ours == default_to_ours(field)


def tagged_struct_at_default(field, ours):
    """True for a tagged struct field whose members all hold their defaults.

    Kafka writes a tagged field only when it differs from its default, and
    for a struct that means "some member differs from its default" (we do
    the same). kafka-python has no default struct object: its default for a
    tagged struct is None, it decodes an absent tag as None, and it writes
    the tag for any non-None value. So a struct at its default is, in
    kafka-python's terms, None.
    """
    return (field.tag is not None and isinstance(ours, dict)
            and same_default(field, ours))


def same(a, b):
    # Python has True == 1; a bool read where we wrote an int (or the
    # reverse) is a type disagreement, not a match.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def compare_field(schema, field, ours, theirs, version, path, report):
    k = kind(field)
    schema.compared += 1
    if k == 'simple':
        mine = simple_to_ours(field, theirs)
        if not same(mine, ours):
            report.add(path, ours, mine)
        return
    if k == 'struct' and theirs is None and tagged_struct_at_default(field, ours):
        return
    if ours is None or theirs is None:
        if not (ours is None and theirs is None):
            report.add(path, ours, theirs, 'null vs non-null')
        return
    if k == 'struct':
        compare_struct(schema, field, ours, theirs, version, path + '.', report)
        return
    if len(ours) != len(theirs):
        report.add(path, 'len %d' % len(ours), 'len %d' % len(theirs), 'array length differs')
        return
    for i, (o, t) in enumerate(zip(ours, theirs)):
        if k == 'array':
            mine = simple_to_ours(simple_of(field), t)
            if not same(mine, o):
                report.add('%s[%d]' % (path, i), o, mine)
        else:
            compare_struct(schema, field.array_of, o, t, version, '%s[%d].' % (path, i), report)


# --------------------------------------------------------------------------
# Building a kafka-python object from our JSON value
# --------------------------------------------------------------------------

def build_struct(schema, struct, data_class, ours, version):
    """Instantiate `data_class` with only the fields valid at `version`.

    Fields outside the version are left unset; kafka-python then neither
    encodes them nor needs them. (A field kafka-python has at the version
    but our JSON lacks was already reported by the decode comparison; it is
    left to kafka-python's default here.)"""
    keys = match_keys(schema, struct, ours, version, '', Report(), record_unknown=False)
    kwargs = {}
    for field in struct.fields.values():
        if field.for_version_q(version) and field.name in keys:
            kwargs[field.name] = build_field(schema, field, ours[keys[field.name]], version)
    return data_class(version=version, **kwargs)


def build_field(schema, field, value, version):
    k = kind(field)
    if k == 'simple':
        return simple_from_ours(field, value)
    if value is None:
        return None
    if k == 'struct':
        if tagged_struct_at_default(field, value):
            return None
        return build_struct(schema, field, field.data_class, value, version)
    if k == 'array':
        return [simple_from_ours(field.array_of, v) for v in value]
    return [build_struct(schema, field.array_of, field.data_class, v, version) for v in value]


# --------------------------------------------------------------------------
# Decoding and encoding with kafka-python
# --------------------------------------------------------------------------

def decode(cls, data, version):
    """Decode a message body; returns (object, bytes consumed).

    The public `decode` does not say how many bytes it consumed, so this uses
    the same code it runs underneath:
      * ApiMessage.decode calls the struct's compiled decoder, which returns
        the end position. (Going through it directly also sidesteps
        ApiVersionsResponse.decode, which deliberately re-reads the body as v0
        whenever error_code != 0 -- the broker-side fallback for an
        unsupported version -- and so would not decode the version we ask.)
      * ApiData.decode reads from a stream; header=False because our bytes
        carry no version prefix.
    """
    flexible = cls.flexible_version_q(version)
    if issubclass(cls, ApiData):
        stream = io.BytesIO(data)
        obj = cls.decode(stream, version=version, header=False)
        return obj, stream.tell()
    fast_decode = cls._struct.compiled_decode_from(  # pylint: disable=protected-access
        version, compact=flexible, tagged=flexible, data_class=cls)
    obj, pos = fast_decode(memoryview(data), 0)
    # The compiled decoder creates the object with object.__new__, so the
    # slots ApiMessage.__init__ sets are missing; encode(version=...) reads
    # `_header` and would raise AttributeError. kafka-python's public
    # decode(header=False) returns the same half-initialised object (its own
    # decode -> encode(version=v) round trip fails the same way), so set them
    # to what __init__ would.
    obj._header = None  # pylint: disable=protected-access
    obj._min_version = obj._max_version = None  # pylint: disable=protected-access
    return obj, pos


def encode(obj, version):
    return bytes(obj.encode(version=version, header=False))


def first_difference(ours, theirs):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return i
    return min(len(ours), len(theirs))


def bytes_problem(report, what, ours, theirs):
    at = first_difference(ours, theirs)
    lo = max(0, at - 8)
    report.add('<bytes @%d>' % at,
               'len %d ..%s..' % (len(ours), ours[lo:at + 16].hex()),
               'len %d ..%s..' % (len(theirs), theirs[lo:at + 16].hex()),
               what)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def check_sample(schema, sample):
    cls = schema.cls
    version = sample['version']
    data = bytes.fromhex(sample['hex'])
    ours = sample['value']
    report = Report()

    # 1. kafka-python decodes our bytes to the same values.
    decoded = None
    try:
        decoded, consumed = decode(cls, data, version)
        if consumed != len(data):
            report.add('<bytes>', 'len %d' % len(data), 'consumed %d' % consumed,
                       'kafka-python did not consume every byte')
        compare_struct(schema, schema.struct, ours, decoded, version, '', report)
    except Exception as exc:  # pylint: disable=broad-except
        report.add('<decode>', sample['hex'][:64], '%s: %s' % (type(exc).__name__, exc),
                   'kafka-python failed to decode our bytes')

    # 2. kafka-python encodes our values to our bytes.
    try:
        built = build_struct(schema, schema.struct, cls, ours, version)
        theirs = encode(built, version)
        if theirs != data:
            bytes_problem(report, 'kafka-python encodes our values differently', data, theirs)
    except Exception as exc:  # pylint: disable=broad-except
        report.add('<encode>', '', '%s: %s' % (type(exc).__name__, exc),
                   'kafka-python failed to encode our values')

    # 3. What kafka-python decoded re-encodes to our bytes.
    if decoded is not None:
        try:
            again = encode(decoded, version)
            if again != data:
                bytes_problem(report, 're-encoding the decoded object differs', data, again)
        except Exception as exc:  # pylint: disable=broad-except
            report.add('<re-encode>', '', '%s: %s' % (type(exc).__name__, exc),
                       'kafka-python failed to re-encode what it decoded')
    return report.problems


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    classes = kafka_python_classes()
    schemas = {}
    checked = collections.Counter()
    skipped = collections.defaultdict(collections.Counter)  # name -> reason -> n
    failures = []
    failed_samples = collections.Counter()

    with open(sys.argv[1], encoding='utf-8') as f:
        samples = [json.loads(line) for line in f if line.strip()]

    for sample in samples:
        name, version = sample['name'], sample['version']
        cls = classes.get(name)
        if cls is None:
            skipped[name]['kafka-python has no class for this message'] += 1
            continue
        lo, hi = valid_versions(cls)
        if not lo <= version <= hi:
            skipped[name]['v%d outside kafka-python schema versions %d-%d' % (version, lo, hi)] += 1
            continue
        drift = SCHEMA_DRIFT.get((name, version))
        if drift:
            skipped[name]['v%d: %s' % (version, drift)] += 1
            continue
        if name not in schemas:
            schemas[name] = Schema(cls)
        problems = check_sample(schemas[name], sample)
        checked[name] += 1
        if problems:
            failed_samples[name] += 1
            for path, ours, theirs, what in problems:
                failures.append((name, version, path, ours, theirs, what))

    print('kafka-python %s cross-check of %d samples' % (KAFKA_PYTHON_VERSION, len(samples)))
    print()
    print('%-38s %8s %8s %8s  %s' % ('message', 'checked', 'failed', 'skipped', 'skip reasons'))
    for name in sorted(set(checked) | set(skipped)):
        reasons = '; '.join('%s (%d)' % (r, n) for r, n in sorted(skipped[name].items()))
        print('%-38s %8d %8d %8d  %s' % (name, checked[name], failed_samples[name],
                                       sum(skipped[name].values()), reasons))
    total_checked = sum(checked.values())
    total_skipped = sum(sum(c.values()) for c in skipped.values())
    total_failed = sum(failed_samples.values())
    print('%-38s %8d %8d %8d' % ('TOTAL', total_checked, total_failed, total_skipped))
    print()
    print('%d field values compared' % sum(s.compared for s in schemas.values()))
    # Not failures by themselves (a field kafka-python lacks would also change
    # the bytes, which are compared), but worth seeing: each is a field our
    # definitions have and Kafka's schema files, as kafka-python ships them,
    # do not.
    for name in sorted(schemas):
        for key in sorted(schemas[name].unknown_keys):
            print('note: %s.%s: our field, unknown to kafka-python' % (name, key))

    if failures:
        # The same disagreement usually recurs in many samples; group it by
        # message, field path (array indices dropped) and kind, and show the
        # first occurrence of each group.
        groups = collections.OrderedDict()
        for name, version, path, ours, theirs, what in failures:
            key = (name, re.sub(r'\[\d+\]', '[]', path), what)
            if key not in groups:
                groups[key] = [0, set(), (version, path, ours, theirs)]
            groups[key][0] += 1
            groups[key][1].add(version)
        print()
        print('%d mismatches in %d samples, %d distinct; first %d:' % (
            len(failures), total_failed, len(groups), min(MAX_FAILURES_SHOWN, len(groups))))
        for (name, _, what), (count, versions, first) in list(groups.items())[:MAX_FAILURES_SHOWN]:
            version, path, ours, theirs = first
            print('  %s %s: %s  [%d times, versions %s]' % (
                name, path, what, count, ','.join(map(str, sorted(versions)))))
            print('      v%d ours:   %r' % (version, ours))
            print('      v%d theirs: %r' % (version, theirs))
    if total_checked < MIN_CHECKED:
        print()
        print('only %d samples checked (< %d): coverage lost' % (total_checked, MIN_CHECKED))
    ok = not failures and total_checked >= MIN_CHECKED
    print()
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
