//! The differential's command lines (differential.rs runs them on both servers).

pub fn table() -> Vec<String> {
    let mut t: Vec<String> = r#"
SET str hello
HSET h f1 v1 f2 v2
HSET h f1 v1b
HSET h
HSET h f1
HSET h f1 v f2
HGET h f1
HGET h nofield
HGET nokey f
HGET h
HMGET h f1 nofield f2
HMGET nokey a b
HMGET h
HSETNX h f1 x
HSETNX h f3 v3
HSETNX h f3
HMSET h f4 v4
HMSET h f4
HLEN h
HLEN nokey
HEXISTS h f1
HEXISTS h nof
HEXISTS nokey f
HSTRLEN h f1
HSTRLEN h nof
HSTRLEN nokey f
HDEL h f4 nof f4
HDEL h nof
HDEL nokey f
HDEL h
HINCRBY h n 5
HINCRBY h n -10
HINCRBY h f1 1
HINCRBY h n abc
HINCRBY h n 1.5
HINCRBY h n 9223372036854775807
HINCRBY h n -9223372036854775808
HINCRBY h n 99999999999999999999
HINCRBY h
HINCRBYFLOAT h fl 1.5
HINCRBYFLOAT h fl 0.1
HINCRBYFLOAT h fl -0.1
HINCRBYFLOAT h fl abc
HINCRBYFLOAT h f1 1
HINCRBYFLOAT h fl inf
HINCRBYFLOAT h fl nan
HINCRBYFLOAT h n 1e3
HINCRBYFLOAT h fl 5.0e3
HINCRBYFLOAT h new 10.50
HGET h new
HINCRBYFLOAT h new2 3
HGET h fl
HGETALL h
HGETALL nokey
HKEYS h
HVALS h
HKEYS nokey
HRANDFIELD h 0
HRANDFIELD nokey
HRANDFIELD nokey 5
HRANDFIELD nokey 5 WITHVALUES
HRANDFIELD h 100
HRANDFIELD h 100 WITHVALUES
HRANDFIELD h 1 WITHVALUES abc
HRANDFIELD h 1 FOO
HRANDFIELD h abc
HSET h1 only one
HRANDFIELD h1
HRANDFIELD h1 -3
HRANDFIELD h1 -2 WITHVALUES
HRANDFIELD h1 5 WITHVALUES
HSCAN h 0
HSCAN h 0 COUNT 100
HSCAN h 0 MATCH f*
HSCAN h 0 COUNT 0
HSCAN h abc
HSCAN h 0 FOO bar
HSCAN nokey 0
OBJECT ENCODING h
HSET h longval aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
OBJECT ENCODING h
HSET str x y
HGET str x
HMGET str x
HGETALL str
HINCRBY str x 1
HLEN str
HSCAN str 0
HDEL h1 only
EXISTS h1
TYPE h
RPUSH l a b c d e
LPUSH l z y
LRANGE l 0 -1
LRANGE l -3 -1
LRANGE l 5 2
LRANGE l -100 100
LRANGE l 100 200
LRANGE l a b
LRANGE nokey 0 -1
LRANGE l 0
LLEN l
LLEN nokey
LINDEX l 0
LINDEX l -1
LINDEX l 100
LINDEX l -100
LINDEX l x
LINDEX nokey 0
LSET l 0 Z
LSET l -1 E
LSET l 100 x
LSET l x y
LSET nokey 0 x
LRANGE l 0 -1
LINSERT l BEFORE c X
LINSERT l AFTER c Y
LINSERT l AFTER nope X
LINSERT nokey BEFORE a b
LINSERT l MIDDLE c X
LINSERT l before Z first
LRANGE l 0 -1
LPUSHX nokey a
RPUSHX nokey a
LPUSHX l q
RPUSHX l q r
EXISTS nokey
LPUSH l
LPOP l
RPOP l
LPOP l 2
RPOP l 2
LPOP l 0
RPOP l 0
LPOP l -1
LPOP l abc
LPOP nokey
LPOP nokey 2
LPOP l 1 2
LRANGE l 0 -1
OBJECT ENCODING l
RPUSH p a b c 1 2 3 c c
LPOS p c
LPOS p c RANK 2
LPOS p c RANK -1
LPOS p c RANK -3
LPOS p c RANK 4
LPOS p c COUNT 2
LPOS p c COUNT 0
LPOS p c RANK -1 COUNT 2
LPOS p c COUNT 0 MAXLEN 3
LPOS p c RANK -1 MAXLEN 2
LPOS p c RANK 2 COUNT 0 MAXLEN 7
LPOS p x
LPOS p x COUNT 0
LPOS nokey x
LPOS nokey x COUNT 2
LPOS p 1
LPOS p c RANK 0
LPOS p c COUNT -1
LPOS p c MAXLEN -1
LPOS p c FOO
LPOS p c RANK
LPOS p c RANK x
LPOS p
LPOS str a
RPUSH r a b a c a b a
LREM r 2 a
LREM r -1 a
LREM r 0 b
LRANGE r 0 -1
LREM r x a
LREM r 0 nope
LREM nokey 0 a
LTRIM r 1 -1
LRANGE r 0 -1
LTRIM r 5 10
EXISTS r
LTRIM nokey 0 1
LTRIM l a b
RPUSH src 1 2 3 4
LMOVE src dst LEFT RIGHT
LMOVE src dst RIGHT LEFT
LRANGE dst 0 -1
LMOVE src src RIGHT LEFT
LRANGE src 0 -1
LMOVE nokey dst LEFT LEFT
LMOVE src dst UP DOWN
LMOVE src str LEFT LEFT
LMOVE str src LEFT LEFT
RPOPLPUSH src dst
RPOPLPUSH src dst
EXISTS src
RPOPLPUSH src dst
LRANGE dst 0 -1
LMPOP 2 nokey dst LEFT
LMPOP 2 nokey dst RIGHT COUNT 2
LMPOP 1 dst LEFT COUNT 10
EXISTS dst
LMPOP 1 nokey LEFT
LMPOP 0 l LEFT
LMPOP -1 l LEFT
LMPOP x l LEFT
LMPOP 1 l MIDDLE
LMPOP 1 l LEFT COUNT 0
LMPOP 1 l LEFT COUNT -1
LMPOP 1 l LEFT COUNT
LMPOP 5 l LEFT
LMPOP 1 str LEFT
LMPOP 2 nokey l left count 1
LPUSH str x
RPUSH str x
LRANGE str 0 -1
LLEN str
LINDEX str 0
LSET str 0 a
LREM str 0 a
LTRIM str 0 1
RPOP str
TYPE l
SADD s 3 1 2
SADD s 2 4
SMEMBERS s
OBJECT ENCODING s
SADD s x
OBJECT ENCODING s
SADD s
SISMEMBER s 1
SISMEMBER s 9
SISMEMBER nokey 1
SMISMEMBER s 1 9 x
SMISMEMBER nokey a b
SMISMEMBER s
SCARD s
SCARD nokey
SREM s 1 9
SREM s
SREM nokey a
SMOVE s s2 2
SMOVE s s2 nope
SMOVE nokey s2 a
SMOVE str s 1
SMOVE s str 3
SMOVE s s 3
SMEMBERS s2
SADD a 1 2 3 4
SADD b 3 4 5
SADD c 4 5 6
SADD w apple banana cherry
SINTER a b
SINTER a b c
SINTER a nokey
SINTER nokey a
SUNION a b c
SUNION a nokey
SDIFF a b c
SDIFF a b
SDIFF nokey a
SDIFF a nokey
SINTER w a
SUNION w a
SINTERCARD 2 a b
SINTERCARD 2 a b LIMIT 1
SINTERCARD 2 a b LIMIT 0
SINTERCARD 3 a b c
SINTERCARD 1 nokey
SINTERCARD 0 a
SINTERCARD -1 a
SINTERCARD 2 a b LIMIT -1
SINTERCARD 3 a b
SINTERCARD 2 a b FOO 1
SINTERCARD 2 a str
SINTERSTORE d a b
SMEMBERS d
SINTERSTORE d a nokey
EXISTS d
SUNIONSTORE d a b
SMEMBERS d
SUNIONSTORE d nokey nokey2
EXISTS d
SDIFFSTORE d a b
SMEMBERS d
SDIFFSTORE d a a
EXISTS d
SINTERSTORE str2 a b
TYPE str2
SINTERSTORE d a str
SUNIONSTORE d a str
SDIFFSTORE d str a
SINTER a str
SUNION str a
SDIFF a str
SADD one x
SPOP one
EXISTS one
SPOP nokey
SPOP nokey 3
SPOP s -1
SPOP s 0
SPOP s abc
SADD one2 x
SRANDMEMBER one2
SRANDMEMBER one2 -3
SRANDMEMBER one2 5
SRANDMEMBER one2 0
SRANDMEMBER nokey
SRANDMEMBER nokey 3
SRANDMEMBER one2 abc
SADD pop3 a b c
SPOP pop3 10
EXISTS pop3
SSCAN a 0
SSCAN a 0 MATCH 1*
SSCAN a 0 COUNT 0
SSCAN a x
SSCAN nokey 0
SSCAN w 0
SADD str x
SMEMBERS str
SISMEMBER str x
SCARD str
SREM str x
SPOP str
SREM s2 2
EXISTS s2
TYPE a
ZADD z 1 a 2 b 3 c
ZADD z NX 10 a 4 d
ZADD z XX 10 a 99 new
ZSCORE z a
ZSCORE z new
ZADD z XX CH 11 a
ZADD z GT 5 a
ZADD z GT CH 12 a
ZADD z LT CH 1 a
ZADD z LT 100 a
ZADD z CH 1 a 2 b 5 e
ZADD z NX XX 1 a
ZADD z GT LT 1 a
ZADD z NX GT 1 a
ZADD z NX LT 1 a
ZADD z INCR 1 a 2 b
ZADD z INCR 5 a
ZADD z NX INCR 5 a
ZADD z XX INCR 5 nope
ZADD z GT INCR -1 a
ZADD z abc a
ZADD z 1
ZADD z 1 a 2
ZADD z
ZADD z nan a
ZADD z inf infm -inf ninfm
ZADD z 1e2 sci
ZADD hexz 0x10 hex
ZSCORE hexz hex
ZADD z FOO 1 a
ZINCRBY z 1.5 b
ZINCRBY z -0.25 b
ZINCRBY z abc b
ZINCRBY z 1 newm
ZINCRBY z -inf infm
ZINCRBY z 1
ZSCORE z a
ZSCORE z b
ZSCORE z infm
ZSCORE z ninfm
ZSCORE z nope
ZSCORE nokey a
ZMSCORE z a nope b
ZMSCORE nokey a b
ZMSCORE z
ZCARD z
ZCARD nokey
ZCOUNT z -inf +inf
ZCOUNT z (1 3
ZCOUNT z 1 (3
ZCOUNT z 3 1
ZCOUNT z 1 x
ZCOUNT z ( 1
ZCOUNT nokey 0 1
ZRANGE z 0 -1 WITHSCORES
ZRANGE z -2 -1
ZRANGE z 0 -1 REV
ZRANGE z 0 -1 REV WITHSCORES
ZRANGE z 2 1
ZRANGE z -100 100
ZRANGE z (1 3 BYSCORE
ZRANGE z 3 (1 BYSCORE REV WITHSCORES
ZRANGE z -inf +inf BYSCORE LIMIT 1 2
ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
ZRANGE z +inf -inf BYSCORE REV LIMIT 0 3 WITHSCORES
ZRANGE z 0 -1 LIMIT 0 1
ZRANGE z a b BYSCORE
ZRANGE z 0 -1 BYLEX
ZRANGE z - + BYLEX WITHSCORES
ZRANGE z 0 -1 FOO
ZRANGE z 0 x
ZRANGE z 0
ZRANGE nokey 0 -1
ZRANGE z 0 -1 BYSCORE BYLEX
ZADD lx 0 a 0 b 0 c 0 d 0 e
ZRANGEBYLEX lx - +
ZRANGEBYLEX lx [b (d
ZRANGEBYLEX lx (a [c LIMIT 1 1
ZRANGEBYLEX lx + -
ZREVRANGEBYLEX lx + - LIMIT 0 2
ZREVRANGEBYLEX lx [d (a
ZRANGEBYLEX z a b
ZRANGEBYLEX lx [a
ZRANGEBYLEX lx - + LIMIT 1
ZLEXCOUNT lx [b +
ZLEXCOUNT lx - +
ZLEXCOUNT lx (a (c
ZLEXCOUNT lx a b
ZLEXCOUNT nokey - +
ZRANGE lx [b [d BYLEX
ZRANGE lx [d [b BYLEX REV
ZRANGE lx [d [b BYLEX REV LIMIT 1 5
ZRANGEBYSCORE z (1 +inf WITHSCORES
ZRANGEBYSCORE z -inf (3
ZRANGEBYSCORE z 3 1
ZRANGEBYSCORE z (2 (2
ZRANGEBYSCORE z [1 2
ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 0 2
ZREVRANGEBYSCORE z 3 (1
ZRANGEBYSCORE z 1 x
ZRANGEBYSCORE z 1 3 LIMIT 0
ZRANGEBYSCORE z -inf +inf LIMIT 2 2 WITHSCORES
ZRANGEBYSCORE z 1 3 FOO
ZREVRANGE z 0 1 WITHSCORES
ZREVRANGE z 0 1 FOO
ZRANK z a
ZRANK z b
ZRANK z nope
ZREVRANK z a
ZREVRANK z infm
ZRANK nokey a
ZRANK z
ZRANGESTORE dst z 0 1
ZRANGE dst 0 -1 WITHSCORES
ZRANGESTORE dst z 5 10
EXISTS dst
ZRANGESTORE dst z 2 (5 BYSCORE
ZRANGE dst 0 -1 WITHSCORES
ZRANGESTORE dst lx [b [c BYLEX
ZRANGE dst 0 -1 WITHSCORES
ZRANGESTORE dst z 0 -1 WITHSCORES
ZRANGESTORE dst nokey 0 -1
EXISTS dst
ZREM z nope a
ZREM z nope
ZREM nokey a
ZREM z
ZADD rs 1 a 2 b 3 c 4 d 5 e
ZREMRANGEBYSCORE rs (1 2
ZREMRANGEBYSCORE rs x 2
ZREMRANGEBYRANK rs -1 -1
ZREMRANGEBYRANK rs 5 10
ZREMRANGEBYRANK rs x 1
ZRANGE rs 0 -1
ZADD rl 0 a 0 b 0 c 0 d
ZREMRANGEBYLEX rl [b (d
ZREMRANGEBYLEX rl a b
ZRANGE rl 0 -1
ZREMRANGEBYLEX rl - +
EXISTS rl
ZREMRANGEBYSCORE nokey 0 1
ZREMRANGEBYSCORE rs -inf +inf
EXISTS rs
ZADD pz 1 a 2 b 3 c 4 d 5 e 6 f
ZPOPMIN pz
ZPOPMAX pz
ZPOPMIN pz 2
ZPOPMAX pz 1
ZPOPMIN pz 0
ZPOPMIN pz -1
ZPOPMIN pz abc
ZPOPMIN nokey
ZPOPMIN nokey 3
ZPOPMAX pz 10
EXISTS pz
ZPOPMIN pz 1 2
ZADD mz 1 a 2 b 3 c
ZMPOP 2 nokey mz MIN COUNT 2
ZMPOP 1 mz MAX
ZMPOP 1 mz MAX
ZMPOP 1 nokey MIN
ZMPOP 0 mz MIN
ZMPOP x mz MIN
ZMPOP 1 mz FOO
ZMPOP 1 mz MIN COUNT 0
ZMPOP 1 mz MIN COUNT
ZMPOP 3 mz MIN
ZMPOP 1 str MIN
ZADD zz 1 only
ZRANDMEMBER zz
ZRANDMEMBER zz -2
ZRANDMEMBER zz -2 WITHSCORES
ZRANDMEMBER zz 5 WITHSCORES
ZRANDMEMBER zz 0
ZRANDMEMBER nokey
ZRANDMEMBER nokey 2
ZRANDMEMBER zz x
ZRANDMEMBER zz 1 FOO
ZADD z1 1 a 2 b 3 c
ZADD z2 10 b 20 c 30 d
SADD sset a d x
ZUNION 2 z1 z2
ZUNION 2 z1 z2 WITHSCORES
ZUNION 2 z1 z2 WEIGHTS 2 3 WITHSCORES
ZUNION 2 z1 z2 AGGREGATE MAX WITHSCORES
ZUNION 2 z1 z2 AGGREGATE MIN WITHSCORES
ZUNION 2 z1 z2 WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
ZINTER 2 z1 z2 WITHSCORES
ZINTER 2 z1 z2 AGGREGATE MIN WITHSCORES
ZINTER 2 z1 z2 WEIGHTS 0.5 2 WITHSCORES
ZINTER 2 z1 nokey
ZDIFF 2 z1 z2 WITHSCORES
ZDIFF 2 z1 z2
ZDIFF 1 z1
ZDIFF 2 nokey z1
ZUNION 2 z1 sset WITHSCORES
ZINTER 2 z1 sset WITHSCORES
ZUNION 2 z1 z2 WEIGHTS 1
ZUNION 2 z1 z2 WEIGHTS 1 abc
ZUNION 2 z1 z2 AGGREGATE FOO
ZUNION 2 z1 z2 FOO
ZUNION 0 z1
ZUNION 3 z1 z2
ZUNION x z1
ZUNION 2 z1 str
ZDIFF 2 z1 z2 AGGREGATE MAX
ZUNIONSTORE out 2 z1 sset
ZRANGE out 0 -1 WITHSCORES
ZUNIONSTORE out 2 z1 z2 WEIGHTS 2 1 AGGREGATE MAX
ZRANGE out 0 -1 WITHSCORES
ZINTERSTORE out 2 z1 nokey
EXISTS out
ZINTERSTORE out 2 z1 z2
ZRANGE out 0 -1 WITHSCORES
ZDIFFSTORE out 2 z1 z2
ZRANGE out 0 -1 WITHSCORES
ZDIFFSTORE out 2 z1 z1
EXISTS out
ZUNIONSTORE out 0 z1
ZUNIONSTORE out 2 z1 str
ZUNIONSTORE out 2 z1 z2 WITHSCORES
ZINTERCARD 2 z1 z2
ZINTERCARD 2 z1 z2 LIMIT 1
ZINTERCARD 2 z1 z2 LIMIT 0
ZINTERCARD 2 z1 sset
ZINTERCARD 1 nokey
ZINTERCARD 0 z1
ZINTERCARD 2 z1 z2 LIMIT -1
ZINTERCARD 3 z1 z2
ZADD inf 1 a
ZADD inf +inf pinf
ZADD inf -inf ninf
ZRANGE inf 0 -1 WITHSCORES
ZRANGEBYSCORE inf -inf +inf WITHSCORES
ZRANGEBYSCORE inf (-inf (+inf WITHSCORES
ZINCRBY inf 1.5 a
ZINCRBY inf 0.1 a
ZADD inf 0.30000000000000004 tiny 1e-5 small 123456789012345678 big
ZRANGE inf 0 -1 WITHSCORES
ZSCAN z1 0
ZSCAN z1 0 MATCH a*
ZSCAN z1 x
ZSCAN nokey 0
ZADD str 1 a
ZSCORE str a
ZRANGE str 0 -1
ZCARD str
ZINCRBY str 1 a
ZRANK str a
ZPOPMIN str
ZREM str a
ZRANGEBYSCORE str 0 1
ZRANGEBYLEX str - +
TYPE z
TYPE str
DEL z1 z2 sset zz out inf lx
EXISTS z1 z2 sset
"#
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(String::from)
    .collect();
    // Encoding switches, generated: a hash over 512 fields (Redis 7.0's hash-max-listpack-entries), a set over 512 integers.
    let mut big_hash = String::from("HSET bighash");
    for i in 0..513 {
        big_hash.push_str(&format!(" f{i} v{i}"));
    }
    let mut small_hash = String::from("HSET smallhash");
    for i in 0..512 {
        small_hash.push_str(&format!(" f{i} v{i}"));
    }
    let mut big_set = String::from("SADD bigset");
    for i in 0..513 {
        big_set.push_str(&format!(" {i}"));
    }
    let mut small_set = String::from("SADD smallset");
    for i in 0..512 {
        small_set.push_str(&format!(" {i}"));
    }
    t.extend([
        big_hash,
        "OBJECT ENCODING bighash".into(),
        small_hash,
        "OBJECT ENCODING smallhash".into(),
        "HLEN bighash".into(),
        big_set,
        "OBJECT ENCODING bigset".into(),
        small_set,
        "OBJECT ENCODING smallset".into(),
        "SCARD bigset".into(),
        "SINTERCARD 2 bigset smallset".into(),
        "SINTERCARD 2 bigset smallset LIMIT 100".into(),
        "SISMEMBER bigset 512".into(),
    ]);
    // Sorted sets: a listpack up to 128 members of up to 64 bytes (Redis 7.0's defaults),
    // a skip list past either for good (ZADD's argument count does not decide: 129 times
    // the same member stay a listpack), and a small one scanned whole.
    let members = |n: usize, key: &str| {
        let mut cmd = format!("ZADD {key}");
        for i in 0..n {
            cmd.push_str(&format!(" {i} m{i}"));
        }
        cmd
    };
    t.extend([
        members(128, "zpack"),
        "OBJECT ENCODING zpack".into(),
        "ZADD zpack 1000 one-more".into(),
        "OBJECT ENCODING zpack".into(),
        "ZREMRANGEBYRANK zpack 0 126".into(),
        "OBJECT ENCODING zpack".into(),
        "ZUNIONSTORE zpackcopy 1 zpack".into(),
        "OBJECT ENCODING zpackcopy".into(),
        format!("ZADD zlong 1 {}", "x".repeat(64)),
        "OBJECT ENCODING zlong".into(),
        format!("ZADD zlong 2 {}", "y".repeat(65)),
        "OBJECT ENCODING zlong".into(),
        format!("ZADD zdup{}", " 1 same".repeat(129)),
        "OBJECT ENCODING zdup".into(),
        members(20, "zsmall"),
        "ZSCAN zsmall 0 COUNT 2".into(),
        "ZSCAN zsmall 0 MATCH m1* COUNT 1".into(),
        "DEL zpack zpackcopy zlong zdup zsmall".into(),
        // The thresholds are settings: lowered, the next insert converts.
        "CONFIG SET zset-max-listpack-entries 4 hash-max-listpack-entries 2 set-max-intset-entries 2".into(),
        "ZADD zt 1 a 2 b 3 c 4 d".into(),
        "OBJECT ENCODING zt".into(),
        "ZADD zt 5 e".into(),
        "OBJECT ENCODING zt".into(),
        "CONFIG SET zset-max-listpack-value 3".into(),
        "ZADD zv 1 abc".into(),
        "OBJECT ENCODING zv".into(),
        "ZADD zv 1 abcd".into(),
        "OBJECT ENCODING zv".into(),
        "HSET ht a 1 b 2".into(),
        "OBJECT ENCODING ht".into(),
        "HSET ht c 3".into(),
        "OBJECT ENCODING ht".into(),
        "SADD st 1 2".into(),
        "OBJECT ENCODING st".into(),
        "SADD st 3".into(),
        "OBJECT ENCODING st".into(),
        "CONFIG SET zset-max-listpack-entries 128 zset-max-listpack-value 64 hash-max-listpack-entries 512 set-max-intset-entries 512".into(),
        "DEL zt zv ht st".into(),
    ]);
    t
}
