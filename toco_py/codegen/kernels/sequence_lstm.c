/* UNIDIRECTIONAL_SEQUENCE_LSTM in float (LiteRT's lstm_eval.cc): gates i, f, c, o, optional
 * peepholes (diagonal), cell clip, projection with optional bias and clip. No CIFG, no layer
 * norm (the lowering refuses them). The states are updated in place, as LiteRT's variable
 * tensors. Each unit's hidden value is computed whole before the next one's, so no scratch
 * buffer is needed: the new output state of a batch row goes straight to the output, then
 * replaces the row of the output state once the row's step is done. */
#include <math.h>

#include "toco_kernels.h"

/* The weights array is in the op's input order (lstm_shared.h). */
enum {
    W_INPUT_I = 1, W_INPUT_F, W_INPUT_C, W_INPUT_O,
    W_RECURRENT_I, W_RECURRENT_F, W_RECURRENT_C, W_RECURRENT_O,
    W_PEEP_I, W_PEEP_F, W_PEEP_O,
    B_I, B_F, B_C, B_O,
    W_PROJECTION, B_PROJECTION
};

static float lstm_activation(float x, int activation)
{
    switch (activation) {
    case 1: return x > 0.0f ? x : 0.0f;
    case 2: return tk_clamp_f32(x, 0.0f, 6.0f);
    case 3: return tk_clamp_f32(x, -1.0f, 1.0f);
    default: return tanhf(x);
    }
}

static float lstm_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* The gate's pre-activation for unit j: input and recurrent products plus bias. */
static float lstm_gate(const float *const *w, int input_weights, int recurrent_weights,
                       int bias, int32_t j, const float *x, int32_t n_input, const float *h,
                       int32_t n_output)
{
    const float *wx = w[input_weights] + (size_t)j * n_input;
    const float *wh = w[recurrent_weights] + (size_t)j * n_output;
    float from_x = 0.0f, from_h = 0.0f;
    int32_t k;
    for (k = 0; k < n_input; ++k) {
        from_x += wx[k] * x[k];
    }
    for (k = 0; k < n_output; ++k) {
        from_h += wh[k] * h[k];
    }
    return from_x + from_h + w[bias][j];
}

int tk_lstm_f32(const float *input, const void *const *weights, float *output_state,
                float *cell_state, float *output, int32_t steps, int32_t batch, int32_t n_input,
                int32_t n_cell, int32_t n_output, int time_major, int activation,
                float cell_clip, float proj_clip)
{
    const float *const *w = (const float *const *)weights;
    int32_t t, b, j, k;
    for (t = 0; t < steps; ++t) {
        for (b = 0; b < batch; ++b) {
            size_t row = time_major ? (size_t)t * batch + b : (size_t)b * steps + t;
            const float *x = input + row * n_input;
            float *h = output_state + (size_t)b * n_output;
            float *c = cell_state + (size_t)b * n_cell;
            float *out = output + row * n_output;
            if (w[W_PROJECTION] != NULL) {
                for (k = 0; k < n_output; ++k) {
                    out[k] = 0.0f;
                }
            }
            for (j = 0; j < n_cell; ++j) {
                float pi = lstm_gate(w, W_INPUT_I, W_RECURRENT_I, B_I, j, x, n_input, h, n_output);
                float pf = lstm_gate(w, W_INPUT_F, W_RECURRENT_F, B_F, j, x, n_input, h, n_output);
                float pc = lstm_gate(w, W_INPUT_C, W_RECURRENT_C, B_C, j, x, n_input, h, n_output);
                float po = lstm_gate(w, W_INPUT_O, W_RECURRENT_O, B_O, j, x, n_input, h, n_output);
                float cell, hidden;
                if (w[W_PEEP_I] != NULL) {
                    pi += w[W_PEEP_I][j] * c[j];
                }
                if (w[W_PEEP_F] != NULL) {
                    pf += w[W_PEEP_F][j] * c[j];
                }
                cell = lstm_sigmoid(pf) * c[j] + lstm_sigmoid(pi) * lstm_activation(pc, activation);
                if (cell_clip > 0.0f) {
                    cell = tk_clamp_f32(cell, -cell_clip, cell_clip);
                }
                c[j] = cell;
                if (w[W_PEEP_O] != NULL) {
                    po += w[W_PEEP_O][j] * cell;
                }
                hidden = lstm_sigmoid(po) * lstm_activation(cell, activation);
                if (w[W_PROJECTION] == NULL) {
                    out[j] = hidden;
                    continue;
                }
                for (k = 0; k < n_output; ++k) { /* column j of the projection */
                    out[k] += w[W_PROJECTION][(size_t)k * n_cell + j] * hidden;
                }
            }
            for (k = 0; k < n_output; ++k) {
                if (w[B_PROJECTION] != NULL) {
                    out[k] += w[B_PROJECTION][k];
                }
                if (w[W_PROJECTION] != NULL && proj_clip > 0.0f) {
                    out[k] = tk_clamp_f32(out[k], -proj_clip, proj_clip);
                }
                h[k] = out[k];
            }
        }
    }
    return TK_OK;
}
