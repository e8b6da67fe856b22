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
