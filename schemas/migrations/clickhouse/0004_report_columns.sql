-- Columns shaped for the reports (measured on 10M calls, BENCHMARKS.md).
-- Call types as Enum8 (values = Android's CallLog.Calls.TYPE codes): every report filters and
-- counts by type, and comparing a byte instead of a string per row made them 2-3x faster.
-- Queries, inserts and results keep using the type names.
ALTER TABLE calls MODIFY COLUMN type Enum8(
    'incoming' = 1, 'outgoing' = 2, 'missed' = 3, 'voicemail' = 4,
    'rejected' = 5, 'blocked' = 6, 'answered_externally' = 7
);

-- The first 32 bits of call_id (a UUID), big-endian, so that "the latest call" is the greatest
-- started_at * 2^32 + tiebreak: one UInt64 instead of a (started_at, call_id) tuple, which cost
-- reports 3-5x. Filled by ClickHouse from call_id, on insert and for rows written before.
ALTER TABLE calls ADD COLUMN tiebreak UInt32
    DEFAULT reinterpretAsUInt32(reverse(unhex(substring(call_id, 1, 8))))
;

-- The client's blind index (client_key, 32 hex digits) as a UUID: the same 128 bits, grouped
-- and counted 3-7x faster than the string. The zero UUID is "no client" (client_key = '').
ALTER TABLE calls ADD COLUMN client UUID
    DEFAULT toUUID(if(client_key = '', '00000000-0000-0000-0000-000000000000', concat(
        substring(client_key, 1, 8), '-', substring(client_key, 9, 4), '-',
        substring(client_key, 13, 4), '-', substring(client_key, 17, 4), '-',
        substring(client_key, 21, 12))))
