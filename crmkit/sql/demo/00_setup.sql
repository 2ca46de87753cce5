-- Random numbers for the demo generator.
-- Every random number is a hash of (row key, seed, stream constant) instead of random(): the
-- same seed then gives the same data whatever the number of threads. Stream constants differ
-- per column. DuckDB combines the arguments of a multi-argument hash() with a cheap
-- multiply-xor, so two streams of the same row would be strongly correlated (corr -0.6);
-- hashing the combined value once more makes them independent.

-- uniform in [0, 1) from 53 bits of the hash
CREATE OR REPLACE TEMP MACRO demo_u(a, b, k) AS
    ((hash(hash(a, b, k)) >> 11)::DOUBLE / 9007199254740992.0);

-- the same for rows keyed by two integers (customer, sequence number)
CREATE OR REPLACE TEMP MACRO demo_u4(a, b, c, k) AS
    ((hash(hash(a, b, c, k)) >> 11)::DOUBLE / 9007199254740992.0);

-- standard normal (Box-Muller) from two independent streams
CREATE OR REPLACE TEMP MACRO demo_norm(a, b, k) AS
    (sqrt(-2.0 * ln(1.0 - demo_u(a, b, k))) * cos(2.0 * pi() * demo_u(a, b, k + 7919)));

-- a uniformly chosen element of a list; lists repeat values by weight for weighted choices
CREATE OR REPLACE TEMP MACRO demo_pick(lst, x) AS
    (list_element(lst, 1 + floor(x * len(lst))::BIGINT));

-- a random time of day (as an interval) between from_hour and to_hour
CREATE OR REPLACE TEMP MACRO demo_tod(x, from_hour, to_hour) AS
    (to_seconds(floor((from_hour + x * (to_hour - from_hour)) * 3600)::BIGINT));

-- a random point in [t0, t1) at whole seconds
CREATE OR REPLACE TEMP MACRO demo_between(t0, t1, x) AS
    (t0 + to_seconds(floor(x * date_diff('second', t0, t1))::BIGINT));
