/* TRANSPOSE_CONV in NHWC, filter OHWI as in the model: every input pixel adds its
 * contributions to the output pixels its taps reach (scattered into a zeroed output), then
 * the bias and the clamp. Padding arrives as the rows/columns cut from the output's top
 * and left (the generator applies TFLite's rule). */
#include "toco_kernels.h"

/* Adds one input pixel's contribution to every output pixel its taps reach. */
static void scatter_pixel(const float *pixel, int32_t in_channels, const float *filter,
                          const int32_t *fd, float *output, const int32_t *od, int32_t batch,
                          int32_t out_y0, int32_t out_x0)
{
    int32_t ky, kx, oc, ic;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t oy = out_y0 + ky;
        if (oy < 0 || oy >= od[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ox = out_x0 + kx;
            float *dst;
            if (ox < 0 || ox >= od[2]) {
                continue;
            }
            dst = output + ((batch * od[1] + oy) * od[2] + ox) * od[3];
            for (oc = 0; oc < od[3]; ++oc) {
                const float *taps = filter + ((oc * fd[1] + ky) * fd[2] + kx) * fd[3];
                float sum = 0.0f;
                for (ic = 0; ic < in_channels; ++ic) {
                    sum += pixel[ic] * taps[ic];
                }
                dst[oc] += sum;
            }
        }
    }
}

int tk_transpose_conv_f32(const float *input, const int32_t *input_dims,
                          const float *filter, const int32_t *filter_dims, const float *bias,
                          float *output, const int32_t *output_dims,
                          int stride_h, int stride_w, int pad_top, int pad_left,
                          float act_min, float act_max)
{
    int32_t count = tk_element_count(output_dims, 4);
    int32_t b, iy, ix, i;
    /* The output accumulates scattered contributions, so it starts from zero. */
    for (i = 0; i < count; ++i) {
        output[i] = 0.0f;
    }
    for (b = 0; b < input_dims[0]; ++b) {
        for (iy = 0; iy < input_dims[1]; ++iy) {
            for (ix = 0; ix < input_dims[2]; ++ix) {
                const float *pixel = input + ((b * input_dims[1] + iy) * input_dims[2] + ix)
                                     * input_dims[3];
                scatter_pixel(pixel, input_dims[3], filter, filter_dims, output, output_dims,
                              b, iy * stride_h - pad_top, ix * stride_w - pad_left);
            }
        }
    }
    for (i = 0; i < count; ++i) {
        float value = output[i] + (bias ? bias[i % output_dims[3]] : 0.0f);
        output[i] = tk_clamp_f32(value, act_min, act_max);
    }
    return TK_OK;
}
