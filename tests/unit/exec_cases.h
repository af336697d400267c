/* SPDX-License-Identifier: Apache-2.0
 * The executor's cases recorded from InfluxDB 1.6.7 (query, expected status
 * and exact body). test_exec.c includes this file twice with different
 * CASE definitions: once to define the tests, once to list them.
 */
CASE(raw_star, "SELECT * FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"idle\",\"on\",\"region\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",90,null,\"us\",\"x\",1.5],[\"2020-01-01T00:00:00Z\",\"b\",70,null,\"eu\",null,3],[\"2020-01-01T00:00:10Z\",\"a\",80,null,\"us\",null,2.5],[\"2020-01-01T00:00:30Z\",\"b\",null,null,\"eu\",null,4.25],[\"2020-01-01T00:01:00Z\",\"c\",5,null,null,\"y\",10],[\"2020-01-01T00:02:00Z\",\"a\",85,true,\"us\",null,0.1]]}]}]}\n")
CASE(raw_two_measurements, "SELECT usage FROM cpu,mem", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(raw_star_multi_csv, "SELECT * FROM cpu,mem WHERE time < '2020-01-01T00:00:20Z'", M_CSV, 200,
     "name,tags,time,free,host,idle,on,region,str,usage,used\ncpu,,1577836800000000000,,a,90,,us,x,1.5,\ncpu,,1577836800000000000,,b,70,,eu,,3,\ncpu,,1577836810000000000,,a,80,,us,,2.5,\nmem,,1577836800000000000,100,a,,,,,,0.5\n")
CASE(selector_alone_has_point_time, "SELECT max(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(two_selectors_epoch_zero, "SELECT max(usage),min(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\",\"min\"],\"values\":[[\"1970-01-01T00:00:00Z\",10,0.1]]}]}]}\n")
CASE(selector_with_tag, "SELECT max(usage),host FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\",\"host\"],\"values\":[[\"2020-01-01T00:01:00Z\",10,\"c\"]]}]}]}\n")
CASE(selector_with_field_and_tag, "SELECT last(usage), idle, host FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"last\",\"idle\",\"host\"],\"values\":[[\"2020-01-01T00:02:00Z\",0.1,85,\"a\"]]}]}]}\n")
CASE(count_fills_zero, "SELECT count(usage) FROM cpu WHERE time >= '2020-01-01T00:00:05Z' AND time < '2020-01-01T00:02:00Z' GROUP BY time(30s)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",1],[\"2020-01-01T00:00:30Z\",1],[\"2020-01-01T00:01:00Z\",1],[\"2020-01-01T00:01:30Z\",0]]}]}]}\n")
CASE(int_division_is_float_and_div_zero, "SELECT idle/3, idle*2, usage/0, idle/0 FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"idle\",\"idle_1\",\"usage\",\"idle_2\"],\"values\":[[\"2020-01-01T00:00:00Z\",30,180,0,0],[\"2020-01-01T00:00:10Z\",26.666666666666668,160,0,0],[\"2020-01-01T00:02:00Z\",28.333333333333332,170,0,0]]}]}]}\n")
CASE(time_or_intersects, "SELECT usage FROM cpu WHERE time > '2020-01-01T00:00:00Z' OR time < '2020-01-01T00:01:00Z'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(missing_measurement_empty, "SELECT usage FROM nope", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(chunked_two_statements, "SELECT usage FROM cpu; SELECT mean(free) FROM mem", M_CHUNKED, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3]],\"partial\":true}],\"partial\":true}]}\n{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25]],\"partial\":true}],\"partial\":true}]}\n{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n{\"results\":[{\"statement_id\":1,\"series\":[{\"name\":\"mem\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"1970-01-01T00:00:00Z\",150]]}]}]}\n")
CASE(group_by_time_and_tag_missing_tag, "SELECT mean(usage) FROM cpu WHERE time < '2020-01-01T00:02:00Z' GROUP BY time(1m), region", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"region\":\"\"},\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"eu\"},\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",3.625],[\"2020-01-01T00:01:00Z\",null]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"us\"},\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",2],[\"2020-01-01T00:01:00Z\",null]]}]}]}\n")
CASE(tag_equals_empty, "SELECT usage FROM cpu WHERE region = ''", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(field_condition_two_fields, "SELECT usage,idle FROM cpu WHERE idle > 75", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\",\"idle\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5,90],[\"2020-01-01T00:00:10Z\",2.5,80],[\"2020-01-01T00:02:00Z\",0.1,85]]}]}]}\n")
CASE(field_condition_unselected_field, "SELECT usage FROM cpu WHERE idle > 75", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(all_aggregates_integer, "SELECT sum(idle), mean(idle), count(idle), spread(idle), stddev(idle), median(idle), mode(idle), percentile(idle, 50), first(idle), last(idle), min(idle), max(idle) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sum\",\"mean\",\"count\",\"spread\",\"stddev\",\"median\",\"mode\",\"percentile\",\"first\",\"last\",\"min\",\"max\"],\"values\":[[\"1970-01-01T00:00:00Z\",330,66,5,85,34.8926926447358,80,5,80,90,85,5,90]]}]}]}\n")
CASE(err_mixing_aggregate_raw, "SELECT usage, mean(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"mixing aggregate and non-aggregate queries is not supported\"}]}\n")
CASE(err_mixing_selectors_fields, "SELECT max(usage), min(usage), idle FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"mixing multiple selector functions with tags or fields is not supported\"}]}\n")
CASE(show_measurements, "SHOW MEASUREMENTS", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[[\"cpu\"],[\"mem\"]]}]}]}\n")
CASE(show_measurements_where, "SHOW MEASUREMENTS WHERE host='c'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[[\"cpu\"]]}]}]}\n")
CASE(show_tag_keys, "SHOW TAG KEYS", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"tagKey\"],\"values\":[[\"host\"],[\"region\"]]},{\"name\":\"mem\",\"columns\":[\"tagKey\"],\"values\":[[\"host\"]]}]}]}\n")
CASE(show_tag_values, "SHOW TAG VALUES WITH KEY = host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"key\",\"value\"],\"values\":[[\"host\",\"a\"],[\"host\",\"b\"],[\"host\",\"c\"]]},{\"name\":\"mem\",\"columns\":[\"key\",\"value\"],\"values\":[[\"host\",\"a\"],[\"host\",\"b\"]]}]}]}\n")
CASE(show_tag_values_in_where, "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region) WHERE host != 'c'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"key\",\"value\"],\"values\":[[\"host\",\"a\"],[\"host\",\"b\"],[\"region\",\"eu\"],[\"region\",\"us\"]]}]}]}\n")
CASE(show_field_keys, "SHOW FIELD KEYS", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"fieldKey\",\"fieldType\"],\"values\":[[\"idle\",\"integer\"],[\"on\",\"boolean\"],[\"str\",\"string\"],[\"usage\",\"float\"]]},{\"name\":\"mem\",\"columns\":[\"fieldKey\",\"fieldType\"],\"values\":[[\"free\",\"integer\"],[\"used\",\"float\"]]}]}]}\n")
CASE(show_series, "SHOW SERIES", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"mem,host=a\"],[\"mem,host=b\"]]}]}]}\n")
CASE(show_series_where, "SHOW SERIES FROM cpu WHERE region='us'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"cpu,host=a,region=us\"]]}]}]}\n")
CASE(show_retention_policies, "SHOW RETENTION POLICIES", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"],\"values\":[[\"autogen\",\"0s\",\"168h0m0s\",1,true]]}]}]}\n")
CASE(show_rp_missing_db, "SHOW RETENTION POLICIES ON nope", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"}]}\n")
CASE(show_measurements_missing_db, "SHOW MEASUREMENTS ON nope", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(show_tag_keys_missing_db, "SHOW TAG KEYS ON nope", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"}]}\n")
CASE(select_missing_db, "SELECT * FROM nope..cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"}]}\n")
CASE(parse_error_400, "SELECT FROM", M_JSON, 400,
     "{\"error\":\"error parsing query: found FROM, expected identifier, string, number, bool at line 1, char 8\"}\n")
CASE(fill_none, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(1m) fill(none)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.8125],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(fill_previous, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(previous)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.3333333333333335],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:01:30Z\",10],[\"2020-01-01T00:02:00Z\",0.1],[\"2020-01-01T00:02:30Z\",0.1],[\"2020-01-01T00:03:00Z\",0.1]]}]}]}\n")
CASE(fill_linear, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(linear)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.3333333333333335],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:01:30Z\",5.05],[\"2020-01-01T00:02:00Z\",0.1],[\"2020-01-01T00:02:30Z\",null],[\"2020-01-01T00:03:00Z\",null]]}]}]}\n")
CASE(fill_number, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(-1)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.3333333333333335],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:01:30Z\",-1],[\"2020-01-01T00:02:00Z\",0.1],[\"2020-01-01T00:02:30Z\",-1],[\"2020-01-01T00:03:00Z\",-1]]}]}]}\n")
CASE(fill_linear_integer, "SELECT sum(idle) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(linear)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sum\"],\"values\":[[\"2020-01-01T00:00:00Z\",240],[\"2020-01-01T00:00:30Z\",122],[\"2020-01-01T00:01:00Z\",5],[\"2020-01-01T00:01:30Z\",45],[\"2020-01-01T00:02:00Z\",85],[\"2020-01-01T00:02:30Z\",null],[\"2020-01-01T00:03:00Z\",null]]}]}]}\n")
CASE(count_fill_none, "SELECT count(idle) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(none)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:01:00Z\",1],[\"2020-01-01T00:02:00Z\",1]]}]}]}\n")
CASE(count_fill_number, "SELECT count(idle) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(30s) fill(7)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:30Z\",7],[\"2020-01-01T00:01:00Z\",1],[\"2020-01-01T00:01:30Z\",7],[\"2020-01-01T00:02:00Z\",1],[\"2020-01-01T00:02:30Z\",7],[\"2020-01-01T00:03:00Z\",7]]}]}]}\n")
CASE(group_time_offset, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(1m, 15s)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2019-12-31T23:59:15Z\",2.3333333333333335],[\"2020-01-01T00:00:15Z\",7.125],[\"2020-01-01T00:01:15Z\",0.1],[\"2020-01-01T00:02:15Z\",null]]}]}]}\n")
CASE(group_time_negative_offset, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(1m, -15s)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2019-12-31T23:59:45Z\",2.8125],[\"2020-01-01T00:00:45Z\",10],[\"2020-01-01T00:01:45Z\",0.1],[\"2020-01-01T00:02:45Z\",null]]}]}]}\n")
CASE(group_time_desc_limit, "SELECT max(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time <= '2020-01-01T00:03:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 2", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:03:00Z\",null],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(raw_desc_limit, "SELECT usage FROM cpu ORDER BY time DESC LIMIT 3", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",0.1],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(raw_limit_offset, "SELECT usage FROM cpu LIMIT 2 OFFSET 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:10Z\",2.5]]}]}]}\n")
CASE(group_tag_limit, "SELECT usage FROM cpu GROUP BY host LIMIT 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(slimit_soffset, "SELECT usage FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(lastpoint_desc_series_order, "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"idle\",\"on\",\"region\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",5,null,null,\"y\",10]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"idle\",\"on\",\"region\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:00:30Z\",null,null,\"eu\",null,4.25]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"idle\",\"on\",\"region\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",85,true,\"us\",null,0.1]]}]}]}\n")
CASE(group_by_star, "SELECT * FROM cpu GROUP BY *", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\",\"region\":\"us\"},\"columns\":[\"time\",\"idle\",\"on\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",90,null,\"x\",1.5],[\"2020-01-01T00:00:10Z\",80,null,null,2.5],[\"2020-01-01T00:02:00Z\",85,true,null,0.1]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\",\"region\":\"eu\"},\"columns\":[\"time\",\"idle\",\"on\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",70,null,null,3],[\"2020-01-01T00:00:30Z\",null,null,null,4.25]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\",\"region\":\"\"},\"columns\":[\"time\",\"idle\",\"on\",\"str\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",5,null,\"y\",10]]}]}]}\n")
CASE(group_by_regex, "SELECT usage FROM cpu GROUP BY /reg/", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"region\":\"\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"eu\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:30Z\",4.25]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"us\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(tag_regex, "SELECT usage FROM cpu WHERE host =~ /^[ab]$/", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(tag_not_regex_and_field, "SELECT usage FROM cpu WHERE host !~ /a/ AND usage > 3", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(tag_or, "SELECT usage FROM cpu WHERE host = 'a' OR host = 'c'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(tag_or_field_paren, "SELECT usage FROM cpu WHERE (host = 'a' OR usage > 9) AND time > '2020-01-01T00:00:00Z'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(string_field_regex, "SELECT str FROM cpu WHERE str =~ /x/", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"str\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"x\"]]}]}]}\n")
CASE(measurement_regex, "SELECT usage FROM /c.u/", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(aggregate_arithmetic, "SELECT mean(usage) * 2, max(usage) - min(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\",\"max_min\"],\"values\":[[\"1970-01-01T00:00:00Z\",7.116666666666667,9.9]]}]}]}\n")
CASE(casts, "SELECT idle::float, usage::integer, host::tag, str::field FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"idle\",\"usage\",\"host\",\"str\"],\"values\":[[\"2020-01-01T00:00:00Z\",90,1,\"a\",\"x\"],[\"2020-01-01T00:00:00Z\",70,3,\"b\",null],[\"2020-01-01T00:00:10Z\",80,2,\"a\",null],[\"2020-01-01T00:00:30Z\",null,4,\"b\",null],[\"2020-01-01T00:01:00Z\",5,10,\"c\",\"y\"],[\"2020-01-01T00:02:00Z\",85,0,\"a\",null]]}]}]}\n")
CASE(max_wildcard, "SELECT max(*) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max_idle\",\"max_on\",\"max_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",90,true,10]]}]}]}\n")
CASE(mean_wildcard_skips_non_numeric, "SELECT mean(*) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean_idle\",\"mean_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",66,3.5583333333333336]]}]}]}\n")
CASE(count_wildcard, "SELECT count(*) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count_idle\",\"count_on\",\"count_str\",\"count_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",5,1,2,6]]}]}]}\n")
CASE(first_wildcard_tie_greater_value, "SELECT first(*) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"first_idle\",\"first_on\",\"first_str\",\"first_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",90,true,\"x\",3]]}]}]}\n")
CASE(last_wildcard_group_tag, "SELECT last(*) FROM cpu GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"last_idle\",\"last_on\",\"last_str\",\"last_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",85,true,\"x\",0.1]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"last_idle\",\"last_on\",\"last_str\",\"last_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",70,null,null,4.25]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"last_idle\",\"last_on\",\"last_str\",\"last_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",5,null,\"y\",10]]}]}]}\n")
CASE(distinct_first_seen_order, "SELECT distinct(idle) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"distinct\"],\"values\":[[\"1970-01-01T00:00:00Z\",70],[\"1970-01-01T00:00:00Z\",90],[\"1970-01-01T00:00:00Z\",80],[\"1970-01-01T00:00:00Z\",5],[\"1970-01-01T00:00:00Z\",85]]}]}]}\n")
CASE(count_distinct, "SELECT count(distinct(idle)) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}]}]}\n")
CASE(two_percentiles, "SELECT percentile(usage, 90), percentile(usage, 10) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"percentile\",\"percentile_1\"],\"values\":[[\"1970-01-01T00:00:00Z\",4.25,0.1]]}]}]}\n")
CASE(percentile_alone_point_time, "SELECT percentile(usage, 90) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"percentile\"],\"values\":[[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(first_alone, "SELECT first(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"first\"],\"values\":[[\"2020-01-01T00:00:00Z\",3]]}]}]}\n")
CASE(group_time_no_lower_bound_limit, "SELECT min(usage) FROM cpu GROUP BY time(1m) LIMIT 2", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"min\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(time_equals_epoch, "SELECT usage FROM cpu WHERE time = 1577836800000000000", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3]]}]}]}\n")
CASE(time_duration_literal, "SELECT usage FROM cpu WHERE time >= 1577836810s", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(time_string_minus_duration, "SELECT usage FROM cpu WHERE time >= '2020-01-01T00:00:30Z' - 25s", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(raw_arithmetic, "SELECT usage + idle, usage * 2 + 1 FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage_idle\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",91.5,4],[\"2020-01-01T00:00:00Z\",73,7],[\"2020-01-01T00:00:10Z\",82.5,6],[\"2020-01-01T00:00:30Z\",null,9.5],[\"2020-01-01T00:01:00Z\",15,21],[\"2020-01-01T00:02:00Z\",85.1,1.2]]}]}]}\n")
CASE(spread_stddev_median_mode, "SELECT spread(usage), stddev(usage), median(usage), mode(str) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"spread\",\"stddev\",\"median\",\"mode\"],\"values\":[[\"1970-01-01T00:00:00Z\",9.9,3.4525956419289336,2.75,\"x\"]]}]}]}\n")
CASE(aggregate_skips_measurement_without_field, "SELECT sum(usage) FROM cpu,mem", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sum\"],\"values\":[[\"1970-01-01T00:00:00Z\",21.35]]}]}]}\n")
CASE(mean_group_tag, "SELECT mean(free) FROM mem GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\"],\"values\":[[\"1970-01-01T00:00:00Z\",100]]},{\"name\":\"mem\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"mean\"],\"values\":[[\"1970-01-01T00:00:00Z\",200]]}]}]}\n")
CASE(err_undefined_function, "SELECT foo(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"undefined function foo()\"}]}\n")
CASE(err_group_time_raw, "SELECT usage FROM cpu GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"GROUP BY requires at least one aggregate function\"}]}\n")
CASE(field_range, "SELECT usage FROM cpu WHERE usage > 2 AND usage < 5", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(integer_field_equals, "SELECT free,used FROM mem WHERE free = 200", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":[\"time\",\"free\",\"used\"],\"values\":[[\"2020-01-01T00:01:40Z\",200,null]]}]}]}\n")
CASE(string_field_equals, "SELECT usage FROM cpu WHERE str = 'x'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5]]}]}]}\n")
CASE(string_field_not_equals, "SELECT usage FROM cpu WHERE str != 'x'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(only_tag_selected_empty, "SELECT host FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(epoch_ms, "SELECT usage FROM cpu LIMIT 2", M_EPOCH_MS, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[1577836800000,1.5],[1577836800000,3]]}]}]}\n")
CASE(pretty, "SELECT usage FROM cpu LIMIT 2; SHOW RETENTION POLICIES; SELECT usage FROM nope", M_PRETTY, 200,
     "{\n    \"results\": [\n        {\n            \"statement_id\": 0,\n            \"series\": [\n                {\n                    \"name\": \"cpu\",\n                    \"columns\": [\n                        \"time\",\n                        \"usage\"\n                    ],\n                    \"values\": [\n                        [\n                            \"2020-01-01T00:00:00Z\",\n                            1.5\n                        ],\n                        [\n                            \"2020-01-01T00:00:00Z\",\n                            3\n                        ]\n                    ]\n                }\n            ]\n        },\n        {\n            \"statement_id\": 1,\n            \"series\": [\n                {\n                    \"columns\": [\n                        \"name\",\n                        \"duration\",\n                        \"shardGroupDuration\",\n                        \"replicaN\",\n                        \"default\"\n                    ],\n                    \"values\": [\n                        [\n                            \"autogen\",\n                            \"0s\",\n                            \"168h0m0s\",\n                            1,\n                            true\n                        ]\n                    ]\n                }\n            ]\n        },\n        {\n            \"statement_id\": 2\n        }\n    ]\n}\n")
CASE(agg_no_matching_series, "SELECT mean(usage) FROM cpu WHERE host='zzz'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(agg_time_is_lower_bound, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:10Z'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:00:10Z\",4.2125]]}]}]}\n")
CASE(selector_group_tag_point_time, "SELECT max(usage) FROM cpu WHERE time >= '2020-01-01T00:00:10Z' GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:30Z\",4.25]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(chunked_group_tags, "SELECT usage FROM cpu GROUP BY host", M_CHUNKED, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5]],\"partial\":true}],\"partial\":true}]}\n{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",0.1]]}],\"partial\":true}]}\n{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:30Z\",4.25]]}],\"partial\":true}]}\n{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(csv_group_tags, "SELECT mean(usage) FROM cpu GROUP BY host", M_CSV, 200,
     "name,tags,time,mean\ncpu,host=a,0,1.3666666666666665\ncpu,host=b,0,3.625\ncpu,host=c,0,10\n")
CASE(err_mean_string, "SELECT mean(str) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"unsupported mean iterator type: *query.stringInterruptIterator\"}]}\n")
CASE(field_or, "SELECT usage FROM cpu WHERE usage = 1.5 OR usage = 3", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:00Z\",3]]}]}]}\n")
CASE(raw_desc_with_condition, "SELECT usage FROM cpu WHERE idle >= 80 AND host = 'a' ORDER BY time DESC", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",0.1],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:00:00Z\",1.5]]}]}]}\n")
CASE(group_time_desc, "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:02:00Z' GROUP BY time(1m) ORDER BY time DESC", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:00:00Z\",2.8125]]}]}]}\n")
CASE(group_time_tag_fill_none, "SELECT mean(usage), count(idle) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:02:00Z' GROUP BY time(30s), host fill(none)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",2,2]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"mean\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",3,1],[\"2020-01-01T00:00:30Z\",4.25,null]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"mean\",\"count\"],\"values\":[[\"2020-01-01T00:01:00Z\",10,1]]}]}]}\n")
CASE(aggregate_division_alias, "SELECT sum(usage) / count(usage) AS avg FROM cpu GROUP BY region", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"region\":\"\"},\"columns\":[\"time\",\"avg\"],\"values\":[[\"1970-01-01T00:00:00Z\",10]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"eu\"},\"columns\":[\"time\",\"avg\"],\"values\":[[\"1970-01-01T00:00:00Z\",3.625]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"us\"},\"columns\":[\"time\",\"avg\"],\"values\":[[\"1970-01-01T00:00:00Z\",1.3666666666666665]]}]}]}\n")
CASE(fully_qualified_source, "SELECT \"usage\" FROM \"t\".\"autogen\".\"cpu\" LIMIT 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5]]}]}]}\n")
CASE(db_dot_dot_source, "SELECT usage FROM t..cpu WHERE \"host\" = 'c'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(two_selectors_fill_previous, "SELECT min(usage), max(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z' GROUP BY time(20s) fill(previous)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"min\",\"max\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5,3],[\"2020-01-01T00:00:20Z\",4.25,4.25],[\"2020-01-01T00:00:40Z\",4.25,4.25]]}]}]}\n")
CASE(median_group_tag, "SELECT median(idle) FROM cpu GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"median\"],\"values\":[[\"1970-01-01T00:00:00Z\",85]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"median\"],\"values\":[[\"1970-01-01T00:00:00Z\",70]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"median\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}]}]}\n")
CASE(last_group_time_no_bounds, "SELECT last(usage) FROM cpu GROUP BY time(1m) fill(none)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"last\"],\"values\":[[\"2020-01-01T00:00:00Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(cast_mismatch_drops_field, "SELECT usage::string FROM cpu LIMIT 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(tag_regex_alternation_now, "SELECT usage FROM cpu WHERE host =~ /a|c/ AND time < now()", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(raw_integer_and_float_arith, "SELECT free * 2 + used FROM mem", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":[\"time\",\"free_used\"],\"values\":[[\"2020-01-01T00:00:00Z\",200.5],[\"2020-01-01T00:01:40Z\",null]]}]}]}\n")
CASE(mode_group_time, "SELECT mode(idle) FROM cpu GROUP BY time(1m) fill(none)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mode\"],\"values\":[[\"2020-01-01T00:00:00Z\",70],[\"2020-01-01T00:01:00Z\",5],[\"2020-01-01T00:02:00Z\",85]]}]}]}\n")
CASE(stddev_single_point_null, "SELECT stddev(usage) FROM cpu GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"stddev\"],\"values\":[[\"1970-01-01T00:00:00Z\",1.2055427546683415]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"stddev\"],\"values\":[[\"1970-01-01T00:00:00Z\",0.8838834764831844]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"stddev\"],\"values\":[[\"1970-01-01T00:00:00Z\",null]]}]}]}\n")
CASE(epoch_s_group_time, "SELECT count(usage) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:02:00Z' GROUP BY time(1m)", M_EPOCH_S, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[1577836800,4],[1577836860,1]]}]}]}\n")
CASE(multi_statement_error_continues, "SELECT foo(usage) FROM cpu; SELECT max(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"not executed\"}]}\n")
CASE(delete_time_range, "DELETE FROM cpu WHERE host = 'a' AND time < '2020-01-01T00:01:00Z'; SELECT usage FROM cpu WHERE host = 'a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(drop_series, "DROP SERIES FROM cpu WHERE host = 'b'; SELECT usage FROM cpu; SHOW SERIES", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]},{\"statement_id\":2,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"cpu,host=a,region=us\"],[\"cpu,host=c\"],[\"mem,host=a\"],[\"mem,host=b\"]]}]}]}\n")
CASE(drop_measurement, "DROP MEASUREMENT mem; SHOW MEASUREMENTS; SELECT * FROM mem", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[[\"cpu\"]]}]},{\"statement_id\":2}]}\n")
/* InfluxDB prefixes this message with "shard <id>: "; Loom has no shards. */
CASE(delete_field_condition_error, "DELETE FROM cpu WHERE usage > 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"fields not supported in WHERE clause during deletion\"}]}\n")
CASE(create_db_with_duration, "CREATE DATABASE t3 WITH DURATION 2d; SHOW RETENTION POLICIES ON t3; DROP DATABASE t3; SHOW DATABASES", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"],\"values\":[[\"autogen\",\"48h0m0s\",\"24h0m0s\",1,true]]}]},{\"statement_id\":2},{\"statement_id\":3,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"t\"]]}]}]}\n")
/* Loom-specific (not recorded): InfluxDB keeps autogen's shard group
 * duration (168h) on ALTER and then refuses 3d; Loom derives it from the
 * duration, as CREATE DATABASE ... WITH DURATION does. */
CASE(alter_rp, "ALTER RETENTION POLICY autogen ON t DURATION 3d; SHOW RETENTION POLICIES", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"],\"values\":[[\"autogen\",\"72h0m0s\",\"24h0m0s\",1,true]]}]}]}\n")

