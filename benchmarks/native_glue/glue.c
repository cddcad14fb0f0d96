/* The pipeline's glue in plain C: an experiment, not part of edgefer (benchmarks/native_glue.py).
 *
 * Question: would the device-side glue of `edgefer pipeline` (docs/pipeline.md, "The pipeline's
 * own overhead") get under issue 12's 5 % if it were compiled code instead of numpy/OpenCV calls?
 * benchmarks/native_glue.py compiles this file here (`cc -O2 -shared -fPIC -ffp-contract=off`),
 * loads it with ctypes, checks every result against edgefer's own path, and times both:
 *
 *   ef_letterbox        the detector's letterbox: plain bilinear sampling (half-pixel centres,
 *                       the sampling tables made in Python), rounded to 8 bits, scaled to float,
 *                       written into the padded input tensor (bit-exact with edgefer's numpy path:
 *                       bilinear_numpy + scale_to_float, no fused multiply-adds).
 *   ef_blazeface_decode score threshold, sigmoid, anchor decoding, (weighted) NMS, the map back
 *                       to frame pixels and the clip (BlazeFace.decode's arithmetic, in double).
 *   ef_prepare_crop     the classifier's crop: Pillow's convert("L") luma, then Pillow's
 *                       antialiased bilinear resize in its 8-bit fixed point (horizontal pass,
 *                       then vertical, each rounded and clipped to 8 bits, as Pillow's
 *                       libImaging/Resample.c describes it: bit-exact with Pillow, the training
 *                       preprocessing), then the model's per-channel look-up table into the NCHW or
 *                       NHWC tensor.
 *
 * Return values: >= 0 success (a count where there is one), -1 out of memory, -2 bad arguments.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ef_version(void) { return 1; }

/* ---- the detector's letterbox ---------------------------------------------------------- */

int ef_letterbox(const uint8_t *src, long src_stride, const int *y0, const int *y1, const float *wy, int nh,
                 const int *x0, const int *x1, const float *wx, int nw, float *dst, int dst_size, int top,
                 int left, float scale, float offset) {
    if (nh < 1 || nw < 1 || top < 0 || left < 0 || top + nh > dst_size || left + nw > dst_size) return -2;
    /* the source columns the output reads: [lo, hi) in bytes of a row */
    int lo = 3 * x0[0], hi = 3 * x1[nw - 1] + 3;
    for (int x = 0; x < nw; x++) {
        if (3 * x0[x] < lo) lo = 3 * x0[x];
        if (3 * x1[x] + 3 > hi) hi = 3 * x1[x] + 3;
    }
    float *rows = malloc(sizeof(float) * (size_t)hi);
    if (!rows) return -1;
    for (int y = 0; y < nh; y++) {
        const uint8_t *r0 = src + (long)y0[y] * src_stride, *r1 = src + (long)y1[y] * src_stride;
        const float fy = wy[y];
        /* the numpy path's float32 operations in its order: rows first (a contiguous pass the
           compiler vectorises), then columns */
        for (int j = lo; j < hi; j++) {
            float t = (float)r0[j];
            rows[j] = t + ((float)r1[j] - t) * fy;
        }
        float *out = dst + ((long)(top + y) * dst_size + left) * 3;
        for (int x = 0; x < nw; x++) {
            const float *a = rows + 3 * x0[x], *b = rows + 3 * x1[x];
            const float fx = wx[x];
            for (int c = 0; c < 3; c++) {
                float v = a[c] + (b[c] - a[c]) * fx;
                uint8_t u = (uint8_t)(v + 0.5f); /* in [0, 255]: truncation rounds */
                float f = (float)u * scale;
                out[3 * x + c] = f + offset;
            }
        }
    }
    free(rows);
    return 0;
}

/* ---- BlazeFace decoding and NMS -------------------------------------------------------- */

typedef struct {
    double x1, y1, x2, y2, score;
    int order; /* input order: equal scores keep it (a stable sort, as the Python path) */
} candidate;

static int by_score_desc(const void *pa, const void *pb) {
    const candidate *a = pa, *b = pb;
    if (a->score > b->score) return -1;
    if (a->score < b->score) return 1;
    return a->order - b->order;
}

/* raw_boxes (A, box_stride) centre offsets/w/h in input pixels; raw_scores logits with a stride;
 * anchors_px (A, 2); to_frame = kx, ky, ox, oy, frame w, frame h. -> kept boxes/scores, count. */
int ef_blazeface_decode(const float *raw_boxes, int box_stride, const float *raw_scores, int score_stride,
                        int n_anchors, const float *anchors_px, float min_logit, float raw_limit, int weighted,
                        double iou_threshold, const double *to_frame, double min_side, float *out_boxes,
                        float *out_scores, int max_out) {
    if (n_anchors < 0 || max_out < 0) return -2;
    int n = 0;
    for (int i = 0; i < n_anchors; i++)
        if (raw_scores[(long)i * score_stride] > min_logit) n++;
    if (n == 0) return 0;
    candidate *cand = malloc(sizeof(candidate) * (size_t)n);
    char *alive = malloc((size_t)n);
    if (!cand || !alive) {
        free(cand);
        free(alive);
        return -1;
    }
    int m = 0;
    for (int i = 0; i < n_anchors; i++) {
        float logit = raw_scores[(long)i * score_stride];
        if (!(logit > min_logit)) continue;
        const float *r = raw_boxes + (long)i * box_stride;
        if (!(r[2] > 0 && r[3] > 0)) continue; /* a box without area is no face */
        if (logit < -raw_limit) logit = -raw_limit;
        float score = (float)(1.0 / (1.0 + exp(-(double)logit))); /* double, rounded once */
        double cx = (double)r[0] + anchors_px[2 * i], cy = (double)r[1] + anchors_px[2 * i + 1];
        double hw = (double)r[2] / 2, hh = (double)r[3] / 2;
        cand[m].x1 = cx - hw, cand[m].y1 = cy - hh, cand[m].x2 = cx + hw, cand[m].y2 = cy + hh;
        cand[m].score = score, cand[m].order = m;
        m++;
    }
    qsort(cand, (size_t)m, sizeof(candidate), by_score_desc);
    memset(alive, 1, (size_t)m);
    const double kx = to_frame[0], ky = to_frame[1], ox = to_frame[2], oy = to_frame[3];
    const double fw = to_frame[4], fh = to_frame[5];
    int kept = 0;
    for (int i = 0; i < m; i++) {
        if (!alive[i]) continue;
        alive[i] = 0;
        const candidate *a = &cand[i];
        double a_area = (a->x2 - a->x1) * (a->y2 - a->y1);
        double w_sum = a->score, sx1 = a->x1 * a->score, sy1 = a->y1 * a->score;
        double sx2 = a->x2 * a->score, sy2 = a->y2 * a->score;
        for (int j = i + 1; j < m; j++) {
            if (!alive[j]) continue;
            const candidate *b = &cand[j];
            double iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1), ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
            double inter = (iw > 0 && ih > 0) ? iw * ih : 0.0;
            double uni = a_area + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
            if (inter > iou_threshold * fmax(uni, 1e-12)) { /* IoU > threshold, without a division */
                alive[j] = 0;
                if (weighted) {
                    double w = b->score;
                    w_sum += w;
                    sx1 += b->x1 * w, sy1 += b->y1 * w, sx2 += b->x2 * w, sy2 += b->y2 * w;
                }
            }
        }
        double x1 = a->x1, y1 = a->y1, x2 = a->x2, y2 = a->y2;
        if (weighted) x1 = sx1 / w_sum, y1 = sy1 / w_sum, x2 = sx2 / w_sum, y2 = sy2 / w_sum;
        x1 = fmin(fmax(x1 * kx + ox, 0.0), fw), x2 = fmin(fmax(x2 * kx + ox, 0.0), fw);
        y1 = fmin(fmax(y1 * ky + oy, 0.0), fh), y2 = fmin(fmax(y2 * ky + oy, 0.0), fh);
        if (x2 - x1 >= min_side && y2 - y1 >= min_side && kept < max_out) {
            float *o = out_boxes + 4 * kept;
            o[0] = (float)x1, o[1] = (float)y1, o[2] = (float)x2, o[3] = (float)y2;
            out_scores[kept++] = (float)a->score;
        }
    }
    free(cand);
    free(alive);
    return kept;
}

/* ---- the classifier's crop: Pillow's luma and bilinear resize, then the look-up table ---- */

#define PRECISION_BITS (32 - 8 - 2) /* Pillow's fixed point for 8-bit images */

static inline uint8_t clip8(int v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Pillow's triangle-filter taps for in_size -> out_size (support widened by the shrink factor),
 * as fixed-point integers; bounds[2k] = first tap, bounds[2k + 1] = tap count. -> taps per row. */
static int bilinear_taps(int in_size, int out_size, int **bounds_out, int32_t **taps_out) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *w = malloc(sizeof(double) * (size_t)ksize);
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    int32_t *taps = calloc((size_t)out_size * (size_t)ksize, sizeof(int32_t));
    if (!w || !bounds || !taps) {
        free(w), free(bounds), free(taps);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double centre = (xx + 0.5) * scale, total = 0.0, inv = 1.0 / filterscale;
        int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int count = hi - lo;
        for (int k = 0; k < count; k++) {
            double t = fabs((k + lo - centre + 0.5) * inv);
            w[k] = t < 1.0 ? 1.0 - t : 0.0;
            total += w[k];
        }
        for (int k = 0; k < count; k++) {
            double v = total != 0.0 ? w[k] / total : w[k];
            taps[xx * ksize + k] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[2 * xx] = lo, bounds[2 * xx + 1] = count;
    }
    free(w);
    *bounds_out = bounds, *taps_out = taps;
    return ksize;
}

/* frame (fh rows of stride bytes, RGB) crop [x1, x2) x [y1, y2) -> (gray ? luma : RGB) ->
 * out_h x out_w, 8 bits -> table[(value * channels + c) * itemsize] into out (NCHW or NHWC). */
int ef_prepare_crop(const uint8_t *frame, long stride, int x1, int y1, int x2, int y2, int gray, int out_h,
                    int out_w, const uint8_t *table, int itemsize, int nchw, uint8_t *out) {
    const int cw = x2 - x1, ch = y2 - y1, nc = gray ? 1 : 3;
    if (cw < 1 || ch < 1 || out_h < 1 || out_w < 1 || (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8))
        return -2;
    int rc = -1;
    uint8_t *src = NULL, *tmp = NULL, *res = NULL;
    int *hb = NULL, *vb = NULL;
    int32_t *hk = NULL, *vk = NULL;
    /* the crop as its own image (Pillow resizes the cropped image): luma or packed RGB */
    src = malloc((size_t)cw * ch * nc);
    if (!src) goto done;
    for (int y = 0; y < ch; y++) {
        const uint8_t *row = frame + (long)(y1 + y) * stride + 3L * x1;
        uint8_t *o = src + (long)y * cw * nc;
        if (gray) {
            for (int x = 0; x < cw; x++) /* ITU-R 601-2 in Pillow's 16-bit fixed point */
                o[x] = (uint8_t)((row[3 * x] * 19595u + row[3 * x + 1] * 38470u + row[3 * x + 2] * 7471u + 0x8000u) >> 16);
        } else {
            memcpy(o, row, (size_t)cw * 3);
        }
    }
    const uint8_t *cur = src;
    int cur_w = cw, cur_h = ch;
    int vk_size = bilinear_taps(ch, out_h, &vb, &vk);
    if (vk_size < 0) goto done;
    /* rows the vertical pass reads (Pillow's ybox_first .. ybox_last) */
    int first = vb[0], last = vb[2 * (out_h - 1)] + vb[2 * (out_h - 1) + 1];
    if (out_w != cw) { /* horizontal pass on those rows (Pillow skips it when the width is kept) */
        int hk_size = bilinear_taps(cw, out_w, &hb, &hk);
        if (hk_size < 0) goto done;
        tmp = malloc((size_t)out_w * (last - first) * nc);
        if (!tmp) goto done;
        for (int y = first; y < last; y++) {
            const uint8_t *row = src + (long)y * cw * nc;
            uint8_t *o = tmp + (long)(y - first) * out_w * nc;
            for (int xx = 0; xx < out_w; xx++) {
                const int lo = hb[2 * xx], count = hb[2 * xx + 1];
                const int32_t *k = hk + (long)xx * hk_size;
                for (int c = 0; c < nc; c++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int t = 0; t < count; t++) acc += row[(lo + t) * nc + c] * k[t];
                    o[xx * nc + c] = clip8(acc);
                }
            }
        }
        cur = tmp, cur_w = out_w, cur_h = last - first;
    } else {
        cur = src + (long)first * cw * nc, cur_h = last - first;
    }
    if (out_h != ch) { /* vertical pass (skipped when the height is kept) */
        res = malloc((size_t)out_w * out_h * nc);
        if (!res) goto done;
        for (int yy = 0; yy < out_h; yy++) {
            const int lo = vb[2 * yy] - first, count = vb[2 * yy + 1];
            const int32_t *k = vk + (long)yy * vk_size;
            uint8_t *o = res + (long)yy * cur_w * nc;
            for (int i = 0; i < cur_w * nc; i++) {
                int acc = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < count; t++) acc += cur[(long)(lo + t) * cur_w * nc + i] * k[t];
                o[i] = clip8(acc);
            }
        }
        cur = res;
    }
    (void)cur_h;
    /* the model's input map per 8-bit value and channel, into the tensor's layout */
    const long plane = (long)out_h * out_w;
    for (long p = 0; p < plane; p++) {
        for (int c = 0; c < nc; c++) {
            const uint8_t *entry = table + ((long)cur[p * nc + c] * nc + c) * itemsize;
            uint8_t *o = out + (nchw ? (long)c * plane + p : p * nc + c) * itemsize;
            memcpy(o, entry, (size_t)itemsize);
        }
    }
    rc = 0;
done:
    free(src), free(tmp), free(res), free(hb), free(hk), free(vb), free(vk);
    return rc;
}
