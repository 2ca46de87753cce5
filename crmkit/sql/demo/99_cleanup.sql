-- Drop the generator's scratch tables and macros.
DROP TABLE IF EXISTS _demo_c;
DROP TABLE IF EXISTS _demo_quiet;
DROP TABLE IF EXISTS _demo_ord;
DROP TABLE IF EXISTS _demo_cf;
DROP TABLE IF EXISTS _demo_f;
DROP MACRO IF EXISTS demo_norm;
DROP MACRO IF EXISTS demo_between;
DROP MACRO IF EXISTS demo_tod;
DROP MACRO IF EXISTS demo_pick;
DROP MACRO IF EXISTS demo_u4;
DROP MACRO IF EXISTS demo_u;
