/* zset_internal: sorted sets on the store — member records, the score
 * index, range specifications and an index walker.  Shared by the sorted
 * set command files (t_zset.c, t_zset_ops.c); not a public interface.
 *
 * On-disk layout of one sorted set (see db.h for the key encoding):
 *
 *   'M' key                         -> T_ZSET | expire | version | count
 *   'D' version member              -> score: 8 bytes, the IEEE-754 bits, big endian
 *   'Z' version sortable:8 member   -> ""    (sortable = score_to_sortable(score))
 *
 *   'Z' key layout:
 *   +-----+-----------+--------------------+-------------------+
 *   | 'Z' | version:8 | sortable score:8   | member bytes ...  |
 *   +-----+-----------+--------------------+-------------------+
 *
 * LevelDB orders the 'Z' keys of one version by (score, member bytes),
 * exactly Redis's order (memcmp, then the shorter member first), so score
 * and lex ranges are a seek plus a walk.  The 'D' record answers ZSCORE
 * with one point read and is the member-ordered view that ZSCAN and the
 * set algebra merge over.  Both records of a member are always written
 * and deleted together.
 *
 * Scores are never NaN on disk.  -0 is stored as 0 (the sortable encoding
 * folds it, and Redis's compact encoding, which holds every small sorted
 * set, prints it as "0" too).
 *
 * Cost model: there is no order-statistics tree on disk, so a rank (ZRANK,
 * ZRANGE by index, ZREMRANGEBYRANK, ZRANDMEMBER) costs a walk of up to
 * min(rank, count-rank) index entries from the nearer end (backward steps
 * weigh more, see zwalk_rank), and ZCOUNT/ZLEXCOUNT walk the range they
 * count.  Score and lex positioning is one seek. */
#ifndef STRATA_ZSET_INTERNAL_H
#define STRATA_ZSET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "server.h"
#include "store.h"

/* ---------------- member records ---------------- */

/* Score of member in the zset of `version`: 1 and *score, 0 if absent,
 * -1 on a storage error (logged). */
int zset_score(uint64_t version, const char *member, size_t mlen, double *score);
/* Same for a member of a set or a sorted set (set members score 1.0), as
 * ZUNION/ZINTER/ZDIFF read their inputs. */
int zset_input_score(int type, uint64_t version, const char *member, size_t mlen,
                     double *score);
/* Write member with `score`; if it existed (`had_old`), its index entry
 * for `old_score` is replaced.  The caller maintains the meta count. */
void zset_put(uint64_t version, const char *member, size_t mlen, double score,
              int had_old, double old_score);
/* Remove member (whose score is `score`). */
void zset_del(uint64_t version, const char *member, size_t mlen, double score);
/* Decode a 'D' value of a zset (8 bytes) or a set ("", score 1). */
double zset_decode_score(const char *v, size_t vl);

/* ---------------- ranges ---------------- */

struct zscore_range {
    double min, max;
    int minex, maxex;       /* exclusive bounds: "(" */
};

/* A lex bound: '-' (below everything), '+' (above everything) or a
 * member, inclusive '[' or exclusive '('. */
enum { ZLEX_MEMBER = 0, ZLEX_MIN_INF, ZLEX_MAX_INF };
struct zlex_bound {
    int kind;
    int ex;
    const char *s;          /* points into the argument; valid during the call */
    size_t len;
};
struct zlex_range {
    struct zlex_bound min, max;
};

/* Parse "min max" as ZRANGEBYSCORE does (strtod, "(" prefix, no NaN).
 * 0 or -1 (the caller replies "min or max is not a float"). */
int zscore_range_parse(const char *a, size_t al, const char *b, size_t bl,
                       struct zscore_range *r);
int zlex_range_parse(const char *a, size_t al, const char *b, size_t bl,
                     struct zlex_range *r);
/* 1 if no score / member can be inside the range. */
int zscore_range_empty(const struct zscore_range *r);
int zlex_range_empty(const struct zlex_range *r);
int zscore_gte_min(const struct zscore_range *r, double s);
int zscore_lte_max(const struct zscore_range *r, double s);
int zlex_gte_min(const struct zlex_range *r, const char *m, size_t ml);
int zlex_lte_max(const struct zlex_range *r, const char *m, size_t ml);

/* ---------------- index walker ---------------- */

/* A walk over one zset's score index in one direction (rev: from the
 * highest score down).  "head" is the first element in that direction,
 * "next" moves in it and "back" against it.  While valid, score, member
 * and mlen describe the current element; member points into the
 * iterator and is valid until the walker moves.  Writes to the store
 * between moves are allowed (deleting the current element included). */
typedef struct zwalk {
    store_iter *it;
    unsigned char prefix[SUBKEY_PREFIX];
    int rev;
    int valid;
    double score;
    uint64_t sortable;
    const char *member;
    size_t mlen;
} zwalk;

void zwalk_open(zwalk *w, uint64_t version, int rev);
void zwalk_close(zwalk *w);
int zwalk_head(zwalk *w);
int zwalk_tail(zwalk *w);
int zwalk_next(zwalk *w);
int zwalk_back(zwalk *w);
/* Position on the element of rank `rank` (0 = head) in a zset of `count`
 * elements, walking from the end that is cheaper to walk from. */
int zwalk_rank(zwalk *w, uint64_t rank, uint64_t count);
/* Position on the first element (in the walk's direction) on the near
 * side's bound of r: forward, the first score >= min (> if exclusive);
 * reverse, the last score <= max.  The far bound is the caller's test. */
int zwalk_score_start(zwalk *w, const struct zscore_range *r);
/* Same for a lex range.  Lex ranges are defined when all scores are equal
 * (as in Redis): the seek happens within the score of the head element. */
int zwalk_lex_start(zwalk *w, const struct zlex_range *r);
/* 1 if the current element is within the far bound of r (forward: max,
 * reverse: min). */
int zwalk_score_in(const zwalk *w, const struct zscore_range *r);
int zwalk_lex_in(const zwalk *w, const struct zlex_range *r);
/* Number of elements of the zset `version` (of `count` elements) within
 * the score range sr, or (sr NULL) the lex range lr; the range must not be
 * empty.  Walks the range or its outside, whichever is shorter. */
long long zset_count(uint64_t version, uint64_t count, const struct zscore_range *sr,
                     const struct zlex_range *lr);
/* 0-based rank (from the lowest score) of member with `score` in a zset of
 * `count` elements; -1 on an inconsistency.  Walks min(rank, count-rank)
 * entries from both ends at once. */
long long zset_rank(uint64_t version, uint64_t count, const char *member, size_t mlen,
                    double score);

/* ---------------- shared by the command files ---------------- */

/* Write back the meta of a zset a command changed, or delete the key
 * when the command emptied it (Redis removes empty collections). */
void zset_commit_meta(const char *key, size_t klen, struct meta *m);

/* One element of a reply WITH SCORES: member and score, flat in RESP2,
 * a [member, double] pair in RESP3 (Redis 7.0's WITHSCORES shapes).
 * zset_scored_len is the array length for n such elements. */
void zset_reply_scored(client *c, const char *m, size_t ml, double score);
long long zset_scored_len(const client *c, long long n);

/* Where a range or set operation sends its elements: the client's reply
 * (an array of members, or of zset_reply_scored elements), or a
 * destination zset named by argument `store_arg` that is replaced by the
 * result (ZRANGESTORE, Z*STORE; an empty result deletes it and the reply
 * is the count).  The
 * destination is only touched when the first element arrives, so the
 * sources are read unchanged even if one of them is the destination. */
struct zsink {
    client *c;
    int store_arg;          /* 0: reply */
    int withscores;
    size_t mark;            /* deferred array of the reply */
    long long n;
    int created;
    struct meta dm;         /* the destination's meta (store) */
};
void zsink_begin(struct zsink *s, client *c, int store_arg, int withscores);
/* 0, or -1 on a storage error (nothing replied yet: call zsink_abort). */
int zsink_emit(struct zsink *s, const char *m, size_t ml, double score);
/* Reply (array length or the stored count).  0, or -1 (replied). */
int zsink_end(struct zsink *s);
void zsink_abort(struct zsink *s);

/* What a pop replies when every key is empty. */
enum { ZPOP_EMPTY_ARRAY, ZPOP_NULL_ARRAY, ZPOP_NO_REPLY };
/* Pop up to `count` elements (count < 0: one, ZPOPMIN's plain form) from
 * the first non-empty key among argument indexes keys[0..nkeys), lowest
 * scores first (max: highest), as Redis's genericZpopCommand.  Reply
 * shapes (RESP2): ZPOPMIN flat [m, s, ...]; emitkey and not nested
 * (BZPOPMIN) [key, m, s]; nested (ZMPOP) [key, [[m, s], ...]].  RESP3:
 * scores are doubles, and ZPOPMIN with a count nests its pairs too.
 * Returns 1 (popped, replied), 0 (all empty; replied per `empty`), -1
 * (error replied: WRONGTYPE on the first existing key of another type). */
int zpop_generic(client *c, const int *keys, int nkeys, int max, int emitkey,
                 long long count, int nested, int empty);

/* ZMPOP/BZMPOP arguments from `idx` (numkeys): 0, or -1 (replied). */
int zmpop_parse(client *c, int idx, int *nkeys, int *max, long long *count);

/* Registration of the command files (t_zset_register, in server.h, calls
 * the other two). */
void t_zset_ops_register(void);
void t_zset_block_register(void);

#endif
