/* geohash: the 52-bit interleaved geohash Redis uses as the score of a
 * geo index member, its decoding, the neighbour cells around a search
 * shape and the distances on a sphere, with Redis 7.0's constants and
 * arithmetic (so scores, coordinates, distances and the cells searched
 * are bit for bit those of redis-server).
 *
 * A hash of `step` bits per axis interleaves latitude bits (even
 * positions) with longitude bits (odd positions); step 26 gives the
 * 52 bits that fit exactly in a double's mantissa. */
#ifndef STRATA_GEOHASH_H
#define STRATA_GEOHASH_H

#include <stdint.h>

#define GEO_STEP_MAX 26
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0

struct geo_bits {
    uint64_t bits;
    uint8_t step;
};

struct geo_range {
    double min, max;
};

struct geo_area {
    struct geo_bits hash;
    struct geo_range lon, lat;
};

enum { GEO_CIRCLE, GEO_BOX };

/* A search shape: a circle of `radius`, or a box of width x height, in
 * units of `conversion` meters, around (lon, lat). */
struct geo_shape {
    int type;
    double lon, lat;
    double conversion;
    double radius;
    double width, height;
};

/* The cells to scan for a shape: the center cell first, then its eight
 * neighbours in Redis's order (N, S, E, W, NE, NW, SE, SW); a cell with
 * bits == 0 and step == 0 is skipped. */
struct geo_cells {
    struct geo_bits cell[9];
};

/* Encode (lon, lat) at `step` bits per axis within the ranges.  1, or 0
 * when out of range. */
int geohash_encode(const struct geo_range *lon_r, const struct geo_range *lat_r, double lon,
                   double lat, uint8_t step, struct geo_bits *out);
/* Encode with the geo index ranges (latitude limited to +-85.05112878). */
int geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geo_bits *out);
/* A score (52 bits) back to the center of its cell: xy[0] lon, xy[1] lat.
 * 1, or 0 if it cannot be decoded. */
int geohash_decode_score(double score, double xy[2]);
/* The 52-bit score of a hash (shifted up if step < 26). */
uint64_t geohash_align52(struct geo_bits h);
/* The cells covering a shape. */
void geohash_cells_for_shape(const struct geo_shape *s, struct geo_cells *out);

/* Distance in meters on Redis's sphere (haversine). */
double geohash_distance(double lon1, double lat1, double lon2, double lat2);
/* Is (lon, lat) inside the shape?  1 with *dist (meters, from the
 * center), or 0. */
int geohash_in_shape(const struct geo_shape *s, double lon, double lat, double *dist);

#endif
