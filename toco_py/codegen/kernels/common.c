/* Helpers shared by the kernel families (always part of a bundle). */
#include "toco_kernels.h"

int32_t tk_element_count(const int32_t *dims, int rank)
{
    int32_t count = 1;
    int i;
    for (i = 0; i < rank; ++i) {
        count *= dims[i];
    }
    return count;
}

void tk_pad_dims(const int32_t *dims, int rank, int32_t *padded)
{
    int lead = TK_MAX_RANK - rank;
    int i;
    for (i = 0; i < TK_MAX_RANK; ++i) {
        padded[i] = i < lead ? 1 : dims[i - lead];
    }
}

void tk_broadcast_strides(const int32_t *padded, const int32_t *out_padded, int32_t *strides)
{
    int32_t stride = 1;
    int i;
    for (i = TK_MAX_RANK - 1; i >= 0; --i) {
        /* A size-1 axis repeats its one element along the output's axis. */
        strides[i] = (padded[i] == 1 && out_padded[i] != 1) ? 0 : stride;
        stride *= padded[i];
    }
}

void tk_strides(const int32_t *padded, int32_t *strides)
{
    int32_t stride = 1;
    int i;
    for (i = TK_MAX_RANK - 1; i >= 0; --i) {
        strides[i] = stride;
        stride *= padded[i];
    }
}

int tk_next_index(int32_t *index, const int32_t *padded)
{
    int i;
    for (i = TK_MAX_RANK - 1; i >= 0; --i) {
        if (++index[i] < padded[i]) {
            return 1;
        }
        index[i] = 0;
    }
    return 0;
}

int tk_reduced_run(const int32_t *dims, int rank, const int32_t *reduced, int32_t *outer,
                   int32_t *count, int32_t *inner)
{
    /* Axes of size 1 change no layout; of the others, the reduced ones must be adjacent. */
    int phase = 0; /* 0: before the run, 1: inside it, 2: after it */
    int d;
    *outer = *count = *inner = 1;
    for (d = 0; d < rank; ++d) {
        if (dims[d] == 0) {
            return 0;
        }
        if (dims[d] == 1) {
            continue;
        }
        if (reduced[d]) {
            if (phase == 2) {
                return 0;
            }
            phase = 1;
            *count *= dims[d];
        } else if (phase == 0) {
            *outer *= dims[d];
        } else {
            phase = 2;
            *inner *= dims[d];
        }
    }
    return 1;
}

int32_t tk_walk_start(tk_walk *walk, const int32_t *a_dims, const int32_t *b_dims,
                      const int32_t *output_dims, int rank)
{
    int32_t padded[TK_MAX_RANK];
    int i;
    tk_pad_dims(output_dims, rank, walk->out);
    tk_pad_dims(a_dims, rank, padded);
    tk_broadcast_strides(padded, walk->out, walk->a_strides);
    tk_pad_dims(b_dims, rank, padded);
    tk_broadcast_strides(padded, walk->out, walk->b_strides);
    for (i = 0; i < TK_MAX_RANK; ++i) {
        walk->index[i] = 0;
    }
    walk->a = walk->b = 0;
    return tk_element_count(output_dims, rank);
}

void tk_walk_next(tk_walk *walk)
{
    int i;
    tk_next_index(walk->index, walk->out);
    walk->a = walk->b = 0;
    for (i = 0; i < TK_MAX_RANK; ++i) {
        walk->a += walk->index[i] * walk->a_strides[i];
        walk->b += walk->index[i] * walk->b_strides[i];
    }
}
