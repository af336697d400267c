/* SPDX-License-Identifier: Apache-2.0
 * Subquery and function cases of test_exec.c, recorded from InfluxDB 1.6.7 on
 * test_exec.c's DATA (db=t). Included twice by test_exec.c: once to define
 * the tests and once to list them, with CASE defined accordingly.
 */
CASE(sub_raw_star, "SELECT * FROM (SELECT usage, idle FROM cpu)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"idle\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",90,1.5],[\"2020-01-01T00:00:00Z\",70,3],[\"2020-01-01T00:00:10Z\",80,2.5],[\"2020-01-01T00:00:30Z\",null,4.25],[\"2020-01-01T00:01:00Z\",5,10],[\"2020-01-01T00:02:00Z\",85,0.1]]}]}]}\n")
CASE(sub_inner_tag_as_column, "SELECT host, usage FROM (SELECT usage FROM cpu GROUP BY host)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",1.5],[\"2020-01-01T00:00:00Z\",\"b\",3],[\"2020-01-01T00:00:10Z\",\"a\",2.5],[\"2020-01-01T00:00:30Z\",\"b\",4.25],[\"2020-01-01T00:01:00Z\",\"c\",10],[\"2020-01-01T00:02:00Z\",\"a\",0.1]]}]}]}\n")
CASE(sub_outer_where_field, "SELECT usage FROM (SELECT usage, idle FROM cpu) WHERE idle > 75", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5],[\"2020-01-01T00:00:10Z\",2.5],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(sub_count_skips_nulls, "SELECT count(idle) FROM (SELECT usage, idle FROM cpu)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}]}]}\n")
CASE(sub_count_star_alias, "SELECT count(*) AS c FROM (SELECT usage, idle FROM cpu)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"c_idle\",\"c_usage\"],\"values\":[[\"1970-01-01T00:00:00Z\",5,6]]}]}]}\n")
CASE(sub_outer_group_by_tag, "SELECT max(usage) FROM (SELECT usage FROM cpu) GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:30Z\",4.25]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(sub_mean_of_max, "SELECT mean(m) FROM (SELECT max(usage) AS m FROM cpu GROUP BY host)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],\"values\":[[\"1970-01-01T00:00:00Z\",5.583333333333333]]}]}]}\n")
CASE(sub_outer_star_group_region, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host) GROUP BY region", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"region\":\"\"},\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",\"c\",10]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"eu\"},\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"b\",3],[\"2020-01-01T00:00:30Z\",\"b\",4.25]]},{\"name\":\"cpu\",\"tags\":{\"region\":\"us\"},\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",1.5],[\"2020-01-01T00:00:10Z\",\"a\",2.5],[\"2020-01-01T00:02:00Z\",\"a\",0.1]]}]}]}\n")
CASE(sub_limit_quirk, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host LIMIT 1)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",1.5],[\"2020-01-01T00:00:00Z\",\"b\",3],[\"2020-01-01T00:00:10Z\",\"a\",2.5],[\"2020-01-01T00:00:30Z\",\"b\",4.25],[\"2020-01-01T00:01:00Z\",\"c\",10]]}]}]}\n")
CASE(sub_limit_quirk_regex, "SELECT * FROM (SELECT usage FROM cpu WHERE host =~ /a|c/ GROUP BY host LIMIT 1)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",1.5],[\"2020-01-01T00:01:00Z\",\"c\",10]]}]}]}\n")
CASE(sub_limit_same_dims, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host LIMIT 1) GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n")
CASE(sub_desc_limit, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1) ORDER BY time DESC", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:02:00Z\",\"a\",0.1],[\"2020-01-01T00:01:00Z\",\"c\",10],[\"2020-01-01T00:00:30Z\",\"b\",4.25],[\"2020-01-01T00:00:10Z\",\"a\",2.5],[\"2020-01-01T00:00:00Z\",\"b\",3]]}]}]}\n")
CASE(sub_order_mismatch, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"subqueries must be ordered in the same direction as the query itself\"}]}\n")
CASE(sub_two_subqueries, "SELECT * FROM (SELECT usage FROM cpu), (SELECT free FROM mem)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"free\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",null,1.5],[\"2020-01-01T00:00:00Z\",null,3],[\"2020-01-01T00:00:10Z\",null,2.5],[\"2020-01-01T00:00:30Z\",null,4.25],[\"2020-01-01T00:01:00Z\",null,10],[\"2020-01-01T00:02:00Z\",null,0.1]]},{\"name\":\"mem\",\"columns\":[\"time\",\"free\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",100,null],[\"2020-01-01T00:01:40Z\",200,null]]}]}]}\n")
CASE(sub_inner_bucket_before_outer_range, "SELECT * FROM (SELECT max(usage) AS m FROM cpu GROUP BY time(30s)) WHERE time >= '2020-01-01T00:00:10Z'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"m\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.5],[\"2020-01-01T00:00:30Z\",4.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(sub_outer_interval_sum, "SELECT sum(mean) FROM (SELECT mean(usage) FROM cpu GROUP BY time(30s), host) WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:03:00Z' GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sum\"],\"values\":[[\"2020-01-01T00:00:00Z\",9.25],[\"2020-01-01T00:01:00Z\",10],[\"2020-01-01T00:02:00Z\",0.1]]}]}]}\n")
CASE(sub_selector_with_tag, "SELECT max(u), host FROM (SELECT usage AS u FROM cpu GROUP BY host)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\",\"host\"],\"values\":[[\"2020-01-01T00:01:00Z\",10,\"c\"]]}]}]}\n")
CASE(sub_nested_three, "SELECT count(d) FROM (SELECT difference(m) AS d FROM (SELECT max(usage) AS m FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:03:00Z' GROUP BY time(30s)))", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",3]]}]}]}\n")
CASE(sub_where_tag_in_inner_dims, "SELECT usage FROM (SELECT usage FROM cpu GROUP BY host) WHERE host = 'b'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",3],[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(fn_floor_ceil_round_abs, "SELECT floor(usage), ceil(usage), round(usage), abs(idle), floor(idle) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"floor\",\"ceil\",\"round\",\"abs\",\"floor_1\"],\"values\":[[\"2020-01-01T00:00:00Z\",1,2,2,90,90],[\"2020-01-01T00:00:10Z\",2,3,3,80,80],[\"2020-01-01T00:02:00Z\",0,1,0,85,85]]}]}]}\n")
CASE(fn_sqrt_pow_ln_log, "SELECT sqrt(usage), pow(usage, 2), ln(usage), log(usage, 10), log2(usage) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sqrt\",\"pow\",\"ln\",\"log\",\"log2\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.224744871391589,2.25,0.4054651081081644,0.17609125905568124,0.5849625007211563],[\"2020-01-01T00:00:10Z\",1.5811388300841898,6.25,0.9162907318741551,0.3979400086720376,1.3219280948873622],[\"2020-01-01T00:02:00Z\",0.31622776601683794,0.010000000000000002,-2.3025850929940455,-0.9999999999999998,-3.321928094887362]]}]}]}\n")
CASE(fn_math_int, "SELECT sqrt(idle), pow(idle, 2), round(idle) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"sqrt\",\"pow\",\"round\"],\"values\":[[\"2020-01-01T00:00:00Z\",9.486832980505138,8100,90],[\"2020-01-01T00:00:10Z\",8.94427190999916,6400,80],[\"2020-01-01T00:02:00Z\",9.219544457292887,7225,85]]}]}]}\n")
CASE(fn_floor_of_mean, "SELECT floor(mean(usage)) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"floor\"],\"values\":[[\"1970-01-01T00:00:00Z\",3]]}]}]}\n")
CASE(fn_difference, "SELECT difference(usage), difference(idle) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"difference\",\"difference_1\"],\"values\":[[\"2020-01-01T00:00:10Z\",1,-10],[\"2020-01-01T00:02:00Z\",-2.4,5]]}]}]}\n")
CASE(fn_difference_same_time, "SELECT difference(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"difference\"],\"values\":[[\"2020-01-01T00:00:10Z\",1],[\"2020-01-01T00:00:30Z\",1.75],[\"2020-01-01T00:01:00Z\",5.75],[\"2020-01-01T00:02:00Z\",-9.9]]}]}]}\n")
CASE(fn_nn_difference, "SELECT non_negative_difference(usage) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"non_negative_difference\"],\"values\":[[\"2020-01-01T00:00:10Z\",1],[\"2020-01-01T00:00:30Z\",1.75],[\"2020-01-01T00:01:00Z\",5.75]]}]}]}\n")
CASE(fn_derivative, "SELECT derivative(usage, 1m), non_negative_derivative(usage) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"derivative\",\"non_negative_derivative\"],\"values\":[[\"2020-01-01T00:00:10Z\",6,0.1],[\"2020-01-01T00:02:00Z\",-1.309090909090909,null]]}]}]}\n")
CASE(fn_derivative_desc, "SELECT derivative(usage) FROM cpu WHERE host='a' ORDER BY time DESC", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"derivative\"],\"values\":[[\"2020-01-01T00:00:10Z\",0.021818181818181816],[\"2020-01-01T00:00:00Z\",-0.1]]}]}]}\n")
CASE(fn_moving_average, "SELECT moving_average(usage, 2) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"moving_average\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.25],[\"2020-01-01T00:00:10Z\",2.75],[\"2020-01-01T00:00:30Z\",3.375],[\"2020-01-01T00:01:00Z\",7.125],[\"2020-01-01T00:02:00Z\",5.05]]}]}]}\n")
CASE(fn_cumulative_sum, "SELECT cumulative_sum(usage), cumulative_sum(idle) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"cumulative_sum\",\"cumulative_sum_1\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.5,90],[\"2020-01-01T00:00:00Z\",4.5,160],[\"2020-01-01T00:00:10Z\",7,240],[\"2020-01-01T00:00:30Z\",11.25,null],[\"2020-01-01T00:01:00Z\",21.25,245],[\"2020-01-01T00:02:00Z\",21.35,330]]}]}]}\n")
CASE(fn_elapsed, "SELECT elapsed(usage, 1s) FROM cpu WHERE host='a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"elapsed\"],\"values\":[[\"2020-01-01T00:00:10Z\",10],[\"2020-01-01T00:02:00Z\",110]]}]}]}\n")
CASE(fn_difference_of_mean_lookback, "SELECT difference(mean(usage)) FROM cpu WHERE time >= '2020-01-01T00:01:00Z' AND time < '2020-01-01T00:03:00Z' GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"difference\"],\"values\":[[\"2020-01-01T00:01:00Z\",7.1875],[\"2020-01-01T00:02:00Z\",-9.9]]}]}]}\n")
CASE(fn_moving_average_fill, "SELECT moving_average(mean(usage), 2) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:05:00Z' GROUP BY time(1m) fill(0)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"moving_average\"],\"values\":[[\"2020-01-01T00:00:00Z\",1.40625],[\"2020-01-01T00:01:00Z\",6.40625],[\"2020-01-01T00:02:00Z\",5.05],[\"2020-01-01T00:03:00Z\",0.04999999999999982],[\"2020-01-01T00:04:00Z\",-1.8041124150158794e-16]]}]}]}\n")
CASE(fn_derivative_unaligned, "SELECT derivative(mean(usage), 10s) FROM cpu WHERE time >= '2020-01-01T00:01:30Z' AND time < '2020-01-01T00:03:00Z' GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"derivative\"],\"values\":[[\"2020-01-01T00:01:00Z\",0.9583333333333334],[\"2020-01-01T00:02:00Z\",-1.6500000000000001]]}]}]}\n")
CASE(fn_mean_and_difference, "SELECT mean(usage), difference(mean(usage)) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:03:00Z' GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\",\"difference\"],\"values\":[[\"2020-01-01T00:00:00Z\",2.8125,null],[\"2020-01-01T00:01:00Z\",10,7.1875],[\"2020-01-01T00:02:00Z\",0.1,-9.9]]}]}]}\n")
CASE(fn_cumsum_count, "SELECT cumulative_sum(count(usage)) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:05:00Z' GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"cumulative_sum\"],\"values\":[[\"2020-01-01T00:00:00Z\",4],[\"2020-01-01T00:01:00Z\",5],[\"2020-01-01T00:02:00Z\",6],[\"2020-01-01T00:03:00Z\",6],[\"2020-01-01T00:04:00Z\",6]]}]}]}\n")
CASE(fn_difference_by_host, "SELECT difference(usage) FROM cpu GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"difference\"],\"values\":[[\"2020-01-01T00:00:10Z\",1],[\"2020-01-01T00:02:00Z\",-2.4]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"difference\"],\"values\":[[\"2020-01-01T00:00:30Z\",1.25]]}]}]}\n")
CASE(fn_difference_times_two, "SELECT difference(usage) * 2 FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"difference\"],\"values\":[[\"2020-01-01T00:00:10Z\",2],[\"2020-01-01T00:00:30Z\",3.5],[\"2020-01-01T00:01:00Z\",11.5],[\"2020-01-01T00:02:00Z\",-19.8]]}]}]}\n")
CASE(fn_err_mixing, "SELECT difference(usage), usage FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"mixing aggregate and non-aggregate queries is not supported\"}]}\n")
CASE(fn_err_needs_interval, "SELECT difference(mean(usage)) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"difference aggregate requires a GROUP BY interval\"}]}\n")
CASE(fn_err_needs_aggregate, "SELECT difference(usage) FROM cpu GROUP BY time(1m)", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"aggregate function required inside the call to difference\"}]}\n")
CASE(fn_err_moving_average_window, "SELECT moving_average(usage, 1) FROM cpu", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"error\":\"moving_average window must be greater than 1, got 1\"}]}\n")
CASE(fn_cumulative_sum_limit, "SELECT cumulative_sum(usage) FROM cpu LIMIT 2 OFFSET 1", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"cumulative_sum\"],\"values\":[[\"2020-01-01T00:00:00Z\",4.5],[\"2020-01-01T00:00:10Z\",7]]}]}]}\n")
CASE(sub_where_tag_neq_pushed, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host) WHERE host != 'a'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"b\",3],[\"2020-01-01T00:00:30Z\",\"b\",4.25],[\"2020-01-01T00:01:00Z\",\"c\",10]]}]}]}\n")
CASE(sub_where_tag_regex_pushed, "SELECT max(m) FROM (SELECT max(usage) AS m FROM cpu GROUP BY region, host) WHERE region =~ /u/ GROUP BY host", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:10Z\",2.5]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:30Z\",4.25]]}]}]}\n")
CASE(sub_where_tag_not_inner_dim, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host) WHERE region = 'us'", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0}]}\n")
CASE(sub_where_tag_empty_value, "SELECT * FROM (SELECT usage FROM cpu GROUP BY region) WHERE region = ''", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"region\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",\"\",10]]}]}]}\n")
CASE(sub_where_tag_or_field_raw_limit, "SELECT * FROM (SELECT usage FROM cpu GROUP BY host LIMIT 1) WHERE host = 'a' OR usage > 3", M_JSON, 200,
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"host\",\"usage\"],\"values\":[[\"2020-01-01T00:00:00Z\",\"a\",1.5],[\"2020-01-01T00:00:10Z\",\"a\",2.5],[\"2020-01-01T00:00:30Z\",\"b\",4.25],[\"2020-01-01T00:01:00Z\",\"c\",10]]}]}]}\n")
