/* UNIDIRECTIONAL_SEQUENCE_LSTM in TFLite's integer scheme 8x8_16, bit for bit as
 * toco_py/ops/int8/lstm.py computes it (itself bit-exact with LiteRT's reference kernel):
 * int8 input, output and output state, int8 weights, int16 peepholes and cell state, the
 * gates in int16 (Q3.12 before their activations, Q0.15 after). The generator computes the
 * multipliers, shifts and zero-point-folded biases with the numpy kernel's own _Params.
 *
 * As the float kernel, it works unit by unit: a unit's gates read the input row, the whole
 * output state of the row and the unit's own cell value, which it then updates in place. The
 * new output state goes to the output row and replaces the state once the row is done. With
 * a projection, the units' hidden values wait in `hidden` (n_cell bytes of the bundle's
 * scratch) until the projection reads them all. */
#include "toco_kernels.h"

/* ---- gemmlowp's FixedPoint<int16_t> functions (toco_py/ops/fixed_point.py, *16) ---------- */

static int16_t lstm_sat16(int32_t x)
{
    return (int16_t)tk_clamp_s32(x, INT16_MIN, INT16_MAX);
}

/* A Q0.31 constant rounded to 16 bits (gemmlowp's RescaleConstantInitializer). */
static int16_t lstm_c16(int32_t x)
{
    return (int16_t)tk_rdbpot(x, 16);
}

static int16_t lstm_srdhm16(int16_t a, int16_t b)
{
    int32_t ab = (int32_t)a * b;
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return tk_wrap16((ab + (ab >= 0 ? (1 << 14) : 1 - (1 << 14))) / (1 << 15));
}

/* SaturatingRoundingMultiplyByPOT for exponent in [1, 14]. */
static int16_t lstm_shl16(int16_t x, int exponent)
{
    int32_t threshold = ((int32_t)1 << (15 - exponent)) - 1;
    if (x > threshold) {
        return INT16_MAX;
    }
    if (x < -threshold) {
        return INT16_MIN;
    }
    return (int16_t)(x * ((int32_t)1 << exponent));
}

static int16_t lstm_exp_on_interval(int16_t a)
{
    const int16_t constant_term = lstm_c16(1895147668); /* exp(-1/8) */
    int16_t x = tk_wrap16(a + (1 << 12));               /* Taylor expansion around -1/8 */
    int16_t x2 = lstm_srdhm16(x, x);
    int16_t x3 = lstm_srdhm16(x2, x);
    int16_t x4 = lstm_srdhm16(x2, x2);
    int16_t poly = (int16_t)tk_rdbpot(
        tk_wrap16(lstm_srdhm16(tk_wrap16(tk_rdbpot(x4, 2) + x3), lstm_c16(715827883)) + x2), 1);
    return lstm_sat16(constant_term + lstm_srdhm16(constant_term, tk_wrap16(x + poly)));
}

/* exp(a) for a <= 0 in Q(integer_bits), integer_bits in [1, 7]; the result in Q0.15. */
static int16_t lstm_exp_on_negative(int16_t a, int integer_bits)
{
    /* exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 4. */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535, 720401, 242};
    int fractional_bits = 15 - integer_bits;
    int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    int16_t below = tk_wrap16((int32_t)((uint32_t)a & (uint32_t)(one_quarter - 1)) - one_quarter);
    int16_t remainder = tk_wrap16(below - a);
    int16_t result = lstm_exp_on_interval(lstm_shl16(below, integer_bits));
    int k;
    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k && ((uint32_t)remainder & ((uint32_t)1 << (fractional_bits + k)))) {
            result = lstm_srdhm16(result, lstm_c16(barrel[k + 2]));
        }
    }
    if (integer_bits > 5 && a < lstm_c16(-((int32_t)1 << (36 - integer_bits)))) {
        result = 0;
    }
    return a == 0 ? INT16_MAX : result;
}

/* 2 / (1 + a) in Q2.13 for a in Q0.15, by Newton-Raphson. */
static int16_t lstm_reciprocal(int16_t a)
{
    int32_t sum = (int32_t)a + INT16_MAX;
    int16_t half_denominator = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int16_t x = tk_wrap16(lstm_c16(1515870810) +
                          lstm_srdhm16(half_denominator, lstm_c16(-1010580540)));
    int i;
    for (i = 0; i < 3; ++i) {
        int16_t one_minus = tk_wrap16((1 << 13) - lstm_srdhm16(half_denominator, x));
        x = tk_wrap16(x + lstm_shl16(lstm_srdhm16(x, one_minus), 2));
    }
    return x;
}

/* The logistic of a in Q(integer_bits), in Q0.15. */
static int16_t lstm_logistic(int16_t a, int integer_bits)
{
    int16_t magnitude = a > 0 ? a : tk_wrap16(-(int32_t)a);
    int16_t e = lstm_exp_on_negative(tk_wrap16(-(int32_t)magnitude), integer_bits);
    int16_t positive = lstm_shl16(lstm_reciprocal(e), 1);
    if (a == 0) {
        return lstm_c16(1 << 30);
    }
    return a > 0 ? positive : tk_wrap16(INT16_MAX - positive);
}

/* The tanh of a in Q(integer_bits), in Q0.15. */
static int16_t lstm_tanh(int16_t a, int integer_bits)
{
    int16_t negative = a < 0 ? a : tk_wrap16(-(int32_t)a);
    int16_t x = lstm_reciprocal(lstm_exp_on_negative(negative, integer_bits + 1));
    int16_t t = lstm_shl16(tk_wrap16(x - (1 << 13)), 2);
    if (a == 0) {
        return 0;
    }
    return a < 0 ? tk_wrap16(-(int32_t)t) : t;
}

/* ---- the step ----------------------------------------------------------------------------- */

/* The weights array is in the op's input order (lstm_shared.h). */
enum {
    W_INPUT = 1,      /* + gate: input_to_{input, forget, cell, output}_weights */
    W_RECURRENT = 5,  /* + gate */
    W_PEEPHOLE = 9,   /* cell_to_{input, forget, output}_weights */
    W_PROJECTION = 16
};
enum { GATE_I, GATE_F, GATE_C, GATE_O };

/* bias + sum_k v[k] w[k] modulo 2^32, as LiteRT's int32 dot product. Sums modulo 2^32 are
 * exact in any order, so runs of DOT_LANES products go side by side into unsigned lanes:
 * a loop of fixed length, which compilers vectorize at -O2 (twice as fast here). */
#define DOT_LANES 16
static int32_t lstm_dot(const int8_t *v, const int8_t *w, int32_t n, int32_t bias)
{
    uint32_t lanes[DOT_LANES];
    uint32_t sum = (uint32_t)bias;
    int32_t k, l;
    for (l = 0; l < DOT_LANES; ++l) {
        lanes[l] = 0;
    }
    for (k = 0; k + DOT_LANES <= n; k += DOT_LANES) {
        for (l = 0; l < DOT_LANES; ++l) {
            lanes[l] += (uint32_t)(v[k + l] * w[k + l]);
        }
    }
    for (l = 0; l < DOT_LANES; ++l) {
        sum += lanes[l];
    }
    for (; k < n; ++k) {
        sum += (uint32_t)(v[k] * w[k]);
    }
    return tk_wrap32(sum);
}

/* The saturated sum of acc and x requantized (one matrix or peephole product added). */
static int16_t lstm_accumulate(int16_t acc, int32_t x, int32_t multiplier, int32_t shift)
{
    int64_t sum = (int64_t)tk_mbqm(x, multiplier, shift) + acc;
    return (int16_t)tk_clamp_s32(sum, INT16_MIN, INT16_MAX);
}

/* What the gates of one row of one step read. */
typedef struct {
    const void *const *weights;
    const tk_lstm_s8_params *p;
    const int8_t *x, *h; /* the input row, the output state of the row */
    int32_t n_input, n_output;
} lstm_row;

/* A gate's pre-activation for unit j, in Q3.12. The gate's peephole weight, if it has
 * one, is number `peephole` (-1: none, chosen by the caller). */
static int16_t lstm_gate(const lstm_row *r, int gate, int32_t j, int32_t peephole, int16_t cell)
{
    const tk_lstm_s8_params *p = r->p;
    const int8_t *wx = (const int8_t *)r->weights[W_INPUT + gate] + (size_t)j * r->n_input;
    const int8_t *wh = (const int8_t *)r->weights[W_RECURRENT + gate] + (size_t)j * r->n_output;
    int peephole_input = W_PEEPHOLE + (gate == GATE_O ? 2 : gate);
    const int16_t *w = gate == GATE_C ? NULL : (const int16_t *)r->weights[peephole_input];
    int16_t acc = lstm_accumulate(0, lstm_dot(r->x, wx, r->n_input, p->input_bias[gate][j]),
                                  p->input_multiplier[gate], p->input_shift[gate]);
    acc = lstm_accumulate(acc, lstm_dot(r->h, wh, r->n_output, p->recurrent_bias[gate][j]),
                          p->recurrent_multiplier[gate], p->recurrent_shift[gate]);
    if (peephole >= 0 && w != NULL) {
        acc = lstm_accumulate(acc, (int32_t)w[peephole] * cell, p->peephole_multiplier[gate],
                              p->peephole_shift[gate]);
    }
    return acc;
}

/* o * tanh(c) (or o * i, see below) requantized to int8. */
static int8_t lstm_hidden(const tk_lstm_s8_params *p, int16_t o, int16_t squashed)
{
    int64_t v = (int64_t)tk_mbqm((int32_t)o * squashed, p->hidden_multiplier, p->hidden_shift);
    return (int8_t)tk_clamp_s32(v + p->hidden_zero, -128, 127);
}

/* Row k of the projection of the hidden values, requantized to the output state's int8. */
static int8_t lstm_project(const tk_lstm_s8_params *p, const int8_t *projection,
                           const int8_t *hidden, int32_t n_cell, int32_t k)
{
    const int8_t *w = projection + (size_t)k * n_cell;
    int32_t total = lstm_dot(hidden, w, n_cell, p->projection_bias[k]);
    int64_t v = (int64_t)tk_mbqm(total, p->projection_multiplier, p->projection_shift);
    int32_t out = tk_clamp_s32(v + p->state_zero, -128, 127);
    return (int8_t)(p->proj_clip > 0 ? tk_clamp_s32(out, -p->proj_clip, p->proj_clip) : out);
}

int tk_lstm_s8(const int8_t *input, const void *const *weights, const tk_lstm_s8_params *p,
               int8_t *output_state, int16_t *cell_state, int8_t *output, int8_t *hidden,
               int32_t steps, int32_t batch, int32_t n_input, int32_t n_cell, int32_t n_output,
               int time_major)
{
    const int8_t *projection = (const int8_t *)weights[W_PROJECTION];
    /* The cell state's tanh runs in Q(15 + cell_log2); LiteRT has it for 0 to 6 integer bits
     * only, and elsewhere leaves the input gate in its place (see the numpy kernel). */
    int cell_bits = 15 + p->cell_log2;
    int cell_tanh = cell_bits >= 0 && cell_bits <= 6;
    int32_t t, b, j, k;
    for (t = 0; t < steps; ++t) {
        for (b = 0; b < batch; ++b) {
            size_t row = time_major ? (size_t)t * batch + b : (size_t)b * steps + t;
            int8_t *h = output_state + (size_t)b * n_output;
            int16_t *c = cell_state + (size_t)b * n_cell;
            int8_t *out = output + row * n_output;
            int8_t *unit_out = projection != NULL ? hidden : out;
            lstm_row r;
            /* LiteRT's peephole runs over n_output values of the flat gate buffers of one step
             * (the whole batch when time major, one row otherwise), weights cycling through
             * the first n_output: unit j of this row is flat value `first + j`. */
            int32_t first = time_major ? b * n_cell : 0;
            int32_t peephole_end = (time_major ? batch : 1) * n_output;
            r.weights = weights;
            r.p = p;
            r.x = input + row * n_input;
            r.h = h;
            r.n_input = n_input;
            r.n_output = n_output;
            for (j = 0; j < n_cell; ++j) {
                int32_t peep = first + j < peephole_end ? (first + j) % n_output : -1;
                int16_t f = lstm_logistic(lstm_gate(&r, GATE_F, j, peep, c[j]), 3);
                int16_t g = lstm_tanh(lstm_gate(&r, GATE_C, j, -1, c[j]), 3);
                int16_t i = lstm_logistic(lstm_gate(&r, GATE_I, j, peep, c[j]), 3);
                int16_t o, cell;
                /* CwiseMul: a rounding shift whose int16 cast wraps; CwiseAdd saturates. */
                int32_t kept = tk_wrap16(tk_rdbpot((int32_t)f * c[j], 15));
                int32_t added = tk_wrap16(tk_rdbpot((int32_t)i * g, 30 + p->cell_log2));
                cell = lstm_sat16(kept + added);
                if (p->cell_clip > 0) {
                    cell = (int16_t)tk_clamp_s32(cell, -p->cell_clip, p->cell_clip);
                }
                c[j] = cell;
                o = lstm_logistic(lstm_gate(&r, GATE_O, j, peep, cell), 3);
                unit_out[j] = lstm_hidden(p, o, cell_tanh ? lstm_tanh(cell, cell_bits) : i);
            }
            for (k = 0; projection != NULL && k < n_output; ++k) {
                out[k] = lstm_project(p, projection, hidden, n_cell, k);
            }
            for (k = 0; k < n_output; ++k) {
                h[k] = out[k];
            }
        }
    }
    return TK_OK;
}
