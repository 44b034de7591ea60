/* Stride-1 convolutions straight from padded images (conv-direct.c; the reasoning is there). */
#ifndef NGRAD_CONV_DIRECT_H
#define NGRAD_CONV_DIRECT_H

#include <stddef.h>

/* An image [c, h, w] padded to [c, hp, wp], convolved with k x k kernels at stride 1: oh x ow outputs,
 * computed at qv vectors of 8 wide positions (oh rows of wp); buffers of wide outputs have rows of
 * 8·qv_padded floats, a padded image takes `image` floats, and the patch-value offsets kp entries. */
typedef struct {
  size_t c, h, w, k, pad, hp, wp, oh, ow, qv, qv_padded, kp, image;
} ngrad_wide;

/* Floats from one image's padded copy to the next, and from its wide errors [out, 8·qv_padded] to the next. */
typedef struct {
  size_t image, errors;
} ngrad_wide_step;

void ngrad_wide_geometry(ngrad_wide *v, size_t c, size_t h, size_t w, size_t k, size_t pad);
/* t[j] = the offset of patch value j = (c, ky, kx) in a padded image; kp entries. */
void ngrad_wide_offsets(const ngrad_wide *v, size_t *t);
/* xp [image floats] = x [c, h, w] with its zeros around (and after). */
void ngrad_wide_pad(const ngrad_wide *v, const float *x, float *xp);
/* zw [out, 8·qv_padded] = the wide outputs of kernels w [out, c·k·k] on xp. */
void ngrad_wide_forward(const ngrad_wide *v, const size_t *t, const float *xp, const float *w, size_t out, float *zw);
/* z [out, oh, ow] = zw without its extra columns; and back, zeros in the extra columns. */
void ngrad_wide_unpad_output(const ngrad_wide *v, const float *zw, size_t out, float *z);
void ngrad_wide_pad_output(const ngrad_wide *v, const float *z, size_t out, float *zw);
/* sums [out, kp, 8] += the weight gradient of `images` images' wide errors dzw [images, out, 8·qv_padded] on
 * xp [images, image], in 8 lanes a value; then
 * dw [out, c·k·k] = the lane sums (in a fixed order). */
void ngrad_wide_weight_grad(const ngrad_wide *v, const size_t *t, const float *xp, const float *dzw, size_t out,
                            size_t images, float *sums);
void ngrad_wide_sum_lanes(const ngrad_wide *v, const float *sums, size_t out, float *dw);
/* The input error as patch errors and a gather (for kernels whose flipped convolution would mostly multiply
 * the zeros around dz): dcols [c·k·k rows of patch_error_stride floats] = Fᵀ·dz on the wide positions of
 * dzw [out, 8·qv_padded], from ft = Fᵀ [c·k·k, out] and rows[o] = o·8·qv_padded, each row starting after a
 * margin of zeros; then dx [c, h, w] = col2im of dcols, read rather than scattered. dcols's margins and the
 * ends of its rows must be zero (they are never written). */
size_t ngrad_wide_margin(const ngrad_wide *v);
size_t ngrad_wide_patch_error_stride(const ngrad_wide *v);
void ngrad_wide_patch_errors(const ngrad_wide *v, const size_t *rows, const float *dzw, const float *ft, size_t out,
                             float *dcols);
void ngrad_wide_gather(const ngrad_wide *v, const float *dcols, float *dx);
/* Channels in lanes (conv-direct-channels.c), for kernel counts out that are a multiple of 8: s [positions]
 * the pixel offsets of the output positions (rounded up to 12, the last repeated); forward z [out, oh·ow]
 * from xp and Wᵀ [c·k·k, out] through zᵀ [positions, out]; weight-gradient sums [kp, out] += Σ over `images`
 * images of xp [image] and dzᵀ [oh·ow, out] (step apart). */
size_t ngrad_channels_positions(const ngrad_wide *v);
void ngrad_channels_offsets(const ngrad_wide *v, size_t *s);
void ngrad_channels_forward(const ngrad_wide *v, const size_t *s, const size_t *t, const float *xp, const float *wt,
                            size_t out, float *zt, float *z);
void ngrad_channels_weight_grad(const ngrad_wide *v, const size_t *s, const size_t *t, const float *xp,
                                const float *dzt, size_t out, size_t images, const ngrad_wide_step *step,
                                float *sums);

#endif
