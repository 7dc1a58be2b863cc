/* geohash: see geohash.h.  The order of floating-point operations below
 * matters: it is Redis 7.0's, so results round the same way. */
#include "geohash.h"

#include <math.h>
#include <stddef.h>

#define EARTH_RADIUS_M 6372797.560856
#define MERCATOR_MAX 20037726.37
#define D_R (M_PI / 180.0)

static double deg_rad(double d) { return d * D_R; }
static double rad_deg(double r) { return r / D_R; }

/* Spread the 32 bits of x over the even bit positions. */
static uint64_t spread(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* Gather the even bit positions into 32 bits. */
static uint32_t gather(uint64_t x)
{
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

int geohash_encode(const struct geo_range *lon_r, const struct geo_range *lat_r, double lon,
                   double lat, uint8_t step, struct geo_bits *out)
{
    if (step > 32 || step == 0 || (lat_r->max == 0 && lat_r->min == 0) ||
        (lon_r->max == 0 && lon_r->min == 0))
        return 0;
    if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return 0;
    out->bits = 0;
    out->step = step;
    if (lat < lat_r->min || lat > lat_r->max || lon < lon_r->min || lon > lon_r->max) return 0;
    double lat_off = (lat - lat_r->min) / (lat_r->max - lat_r->min);
    double lon_off = (lon - lon_r->min) / (lon_r->max - lon_r->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    out->bits = spread((uint32_t)lat_off) | (spread((uint32_t)lon_off) << 1);
    return 1;
}

static const struct geo_range LON_WGS84 = { GEO_LONG_MIN, GEO_LONG_MAX };
static const struct geo_range LAT_WGS84 = { GEO_LAT_MIN, GEO_LAT_MAX };

int geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geo_bits *out)
{
    return geohash_encode(&LON_WGS84, &LAT_WGS84, lon, lat, step, out);
}

static int hash_is_zero(struct geo_bits h) { return h.bits == 0 && h.step == 0; }

static int geohash_decode(struct geo_bits h, struct geo_area *a)
{
    if (hash_is_zero(h)) return 0;
    a->hash = h;
    uint32_t ilat = gather(h.bits), ilon = gather(h.bits >> 1);
    double lat_scale = LAT_WGS84.max - LAT_WGS84.min;
    double lon_scale = LON_WGS84.max - LON_WGS84.min;
    double cells = (double)(1ULL << h.step);
    a->lat.min = LAT_WGS84.min + (ilat * 1.0 / cells) * lat_scale;
    a->lat.max = LAT_WGS84.min + ((ilat + 1) * 1.0 / cells) * lat_scale;
    a->lon.min = LON_WGS84.min + (ilon * 1.0 / cells) * lon_scale;
    a->lon.max = LON_WGS84.min + ((ilon + 1) * 1.0 / cells) * lon_scale;
    return 1;
}

int geohash_decode_score(double score, double xy[2])
{
    struct geo_bits h = { (uint64_t)score, GEO_STEP_MAX };
    struct geo_area a;
    if (!geohash_decode(h, &a)) return 0;
    xy[0] = (a.lon.min + a.lon.max) / 2;
    if (xy[0] > GEO_LONG_MAX) xy[0] = GEO_LONG_MAX;
    if (xy[0] < GEO_LONG_MIN) xy[0] = GEO_LONG_MIN;
    xy[1] = (a.lat.min + a.lat.max) / 2;
    if (xy[1] > GEO_LAT_MAX) xy[1] = GEO_LAT_MAX;
    if (xy[1] < GEO_LAT_MIN) xy[1] = GEO_LAT_MIN;
    return 1;
}

uint64_t geohash_align52(struct geo_bits h)
{
    return h.bits << (52 - h.step * 2);
}

/* Move a cell one step east (d > 0) or west along the longitude bits
 * (odd positions), wrapping within its step. */
static void move_x(struct geo_bits *h, int d)
{
    uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL;
    uint64_t y = h->bits & 0x5555555555555555ULL;
    uint64_t zz = 0x5555555555555555ULL >> (64 - h->step * 2);
    if (d > 0) {
        x = x + (zz + 1);
    } else {
        x = x | zz;
        x = x - (zz + 1);
    }
    x &= (0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2));
    h->bits = x | y;
}

/* The same north (d > 0) or south along the latitude bits. */
static void move_y(struct geo_bits *h, int d)
{
    uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL;
    uint64_t y = h->bits & 0x5555555555555555ULL;
    uint64_t zz = 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
    if (d > 0) {
        y = y + (zz + 1);
    } else {
        y = y | zz;
        y = y - (zz + 1);
    }
    y &= (0x5555555555555555ULL >> (64 - h->step * 2));
    h->bits = x | y;
}

enum { C_CENTER, C_N, C_S, C_E, C_W, C_NE, C_NW, C_SE, C_SW };

static void neighbours(struct geo_bits h, struct geo_bits *c)
{
    static const int dx[9] = { 0, 0, 0, 1, -1, 1, -1, 1, -1 };
    static const int dy[9] = { 0, 1, -1, 0, 0, 1, 1, -1, -1 };
    for (int i = 0; i < 9; i++) {
        c[i] = h;
        if (dx[i]) move_x(&c[i], dx[i]);
        if (dy[i]) move_y(&c[i], dy[i]);
    }
}

/* Steps per axis for cells about as large as the search radius (wider
 * towards the poles). */
static int steps_for_radius(double range, double lat)
{
    if (range == 0) return 26;
    int step = 1;
    while (range < MERCATOR_MAX) {
        range *= 2;
        step++;
    }
    step -= 2;
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > 26) step = 26;
    return step;
}

/* The bounding box of a shape: min lon, min lat, max lon, max lat. */
static void bounding_box(const struct geo_shape *s, double *b)
{
    double height = s->conversion * (s->type == GEO_CIRCLE ? s->radius : s->height / 2);
    double width = s->conversion * (s->type == GEO_CIRCLE ? s->radius : s->width / 2);
    const double lat_delta = rad_deg(height / EARTH_RADIUS_M);
    const double lon_delta_top = rad_deg(width / EARTH_RADIUS_M / cos(deg_rad(s->lat + lat_delta)));
    const double lon_delta_bottom =
        rad_deg(width / EARTH_RADIUS_M / cos(deg_rad(s->lat - lat_delta)));
    int south = s->lat < 0;
    b[0] = south ? s->lon - lon_delta_bottom : s->lon - lon_delta_top;
    b[2] = south ? s->lon + lon_delta_bottom : s->lon + lon_delta_top;
    b[1] = s->lat - lat_delta;
    b[3] = s->lat + lat_delta;
}

void geohash_cells_for_shape(const struct geo_shape *s, struct geo_cells *out)
{
    double b[4];
    bounding_box(s, b);
    double min_lon = b[0], min_lat = b[1], max_lon = b[2], max_lat = b[3];
    double radius = s->type == GEO_CIRCLE
                        ? s->radius
                        : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    radius *= s->conversion;
    int steps = steps_for_radius(radius, s->lat);
    struct geo_bits h;
    struct geo_bits *c = out->cell;
    struct geo_area area, n, so, e, w;
    geohash_encode_wgs84(s->lon, s->lat, (uint8_t)steps, &h);
    neighbours(h, c);
    geohash_decode(h, &area);
    /* Near the edge of the center cell, cells of this size may not
     * reach far enough: use the next larger size. */
    int decrease = 0;
    geohash_decode(c[C_N], &n);
    geohash_decode(c[C_S], &so);
    geohash_decode(c[C_E], &e);
    geohash_decode(c[C_W], &w);
    if (n.lat.max < max_lat) decrease = 1;
    if (so.lat.min > min_lat) decrease = 1;
    if (e.lon.max < max_lon) decrease = 1;
    if (w.lon.min > min_lon) decrease = 1;
    if (steps > 1 && decrease) {
        steps--;
        geohash_encode_wgs84(s->lon, s->lat, (uint8_t)steps, &h);
        neighbours(h, c);
        geohash_decode(h, &area);
    }
    /* Drop the neighbours the shape cannot reach. */
    static const struct geo_bits zero = { 0, 0 };
    if (steps >= 2) {
        if (area.lat.min < min_lat) c[C_S] = c[C_SW] = c[C_SE] = zero;
        if (area.lat.max > max_lat) c[C_N] = c[C_NE] = c[C_NW] = zero;
        if (area.lon.min < min_lon) c[C_W] = c[C_SW] = c[C_NW] = zero;
        if (area.lon.max > max_lon) c[C_E] = c[C_SE] = c[C_NE] = zero;
    }
}

static double lat_distance(double lat1, double lat2)
{
    return EARTH_RADIUS_M * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geohash_distance(double lon1d, double lat1d, double lon2d, double lat2d)
{
    double lon1r = deg_rad(lon1d), lon2r = deg_rad(lon2d);
    double v = sin((lon2r - lon1r) / 2);
    /* Same meridian: the latitude difference alone. */
    if (v == 0.0) return lat_distance(lat1d, lat2d);
    double lat1r = deg_rad(lat1d), lat2r = deg_rad(lat2d);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * EARTH_RADIUS_M * asin(sqrt(a));
}

int geohash_in_shape(const struct geo_shape *s, double lon, double lat, double *dist)
{
    if (s->type == GEO_CIRCLE) {
        *dist = geohash_distance(s->lon, s->lat, lon, lat);
        return *dist <= s->radius * s->conversion;
    }
    double w = s->width * s->conversion, h = s->height * s->conversion;
    if (lat_distance(lat, s->lat) > h / 2) return 0;
    if (geohash_distance(lon, lat, s->lon, lat) > w / 2) return 0;
    *dist = geohash_distance(s->lon, s->lat, lon, lat);
    return 1;
}
