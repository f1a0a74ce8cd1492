/*
 * lstm_se: the per-frame signal path around the exported LSTM mask model, in portable C99.
 *
 * One call of lstm_se_process() per hop (LSTM_SE_DSP_HOP samples in, as many out) does what
 * `lstm-se enhance --streaming` does frame by frame (src/lstm_se/enhance.py,
 * StreamingEnhancer):
 *
 *   history <- last n_fft samples -> x analysis window -> real FFT (CMSIS-DSP
 *   arm_rfft_fast) -> |X| / n_fft -> compression (x^p) -> quantize (frame input scale and
 *   zero point) -> model call -> dequantize the mask -> mask x X -> inverse real FFT ->
 *   x synthesis window -> overlap-add -> / window envelope -> hop out
 *
 * The model's tensors are int8 (an int8 model) or int16 (a 16x8 model: int16 activations,
 * int8 weights), as LSTM_SE_DSP_TENSOR_BITS in the generated header says: lstm_se_q is that
 * type, and every quantized value here (features, mask, state) is one.
 *
 * Output sample i belongs to input sample i - (n_fft - hop): the first n_fft - hop output
 * samples of a stream are the zero history's.
 *
 * Every constant comes from the generated header lstm_se_dsp_config.h (written by
 * `lstm-se export` next to the model array, or `python -m lstm_se.firmware header`), so this
 * file holds no number of the model. No heap: lstm_se_t holds every buffer, statically sized.
 *
 * Precision: by default the DSP runs in float (the Cortex-M7 build, arm_rfft_fast_f32).
 * Defining LSTM_SE_DSP_F64 makes it double (arm_rfft_fast_f64): the host reference build,
 * whose features equal the Python path's to the last int8 step (docs/firmware.md says why
 * the float build cannot promise that).
 */
#ifndef LSTM_SE_H_
#define LSTM_SE_H_

#include <stddef.h>
#include <stdint.h>

#include "dsp/transform_functions.h"
#include "lstm_se_dsp_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes: 0 is success, every error is negative. */
#define LSTM_SE_OK 0
#define LSTM_SE_ERR_NULL (-1)     /* a NULL pointer argument */
#define LSTM_SE_ERR_LENGTH (-2)   /* a frame that is not LSTM_SE_DSP_HOP samples */
#define LSTM_SE_ERR_MODEL (-3)    /* the model call returned non-zero */
#define LSTM_SE_ERR_NOT_INIT (-4) /* lstm_se_process/reset before lstm_se_init */
#define LSTM_SE_ERR_FFT (-5)      /* CMSIS-DSP has no real FFT of this length */

#if !defined(LSTM_SE_DSP_TENSOR_BITS) || LSTM_SE_DSP_TENSOR_BITS == 8
typedef int8_t lstm_se_q;
#define LSTM_SE_Q_MIN (-128)
#define LSTM_SE_Q_MAX 127
#elif LSTM_SE_DSP_TENSOR_BITS == 16
typedef int16_t lstm_se_q;
#define LSTM_SE_Q_MIN (-32768)
#define LSTM_SE_Q_MAX 32767
#else
#error "lstm_se_dsp_config.h: LSTM_SE_DSP_TENSOR_BITS must be 8 or 16"
#endif

#ifdef LSTM_SE_DSP_F64
typedef double lstm_se_real;
typedef arm_rfft_fast_instance_f64 lstm_se_rfft;
#else
typedef float lstm_se_real;
typedef arm_rfft_fast_instance_f32 lstm_se_rfft;
#endif

/*
 * The model call, once per frame. `features` holds LSTM_SE_DSP_N_BINS lstm_se_q values for
 * the model's frame input; `state_in` holds the LSTM_SE_DSP_STATE_TOTAL lstm_se_q values of
 * every state input, concatenated in carry order (LSTM_SE_DSP_STATE_NAMES, each
 * LSTM_SE_DSP_STATE_SIZES[k] long at LSTM_SE_DSP_STATE_OFFSETS[k]). The function writes the
 * LSTM_SE_DSP_N_BINS lstm_se_q mask values to `mask` and the state outputs, in the same order and
 * layout, to `state_out`, and returns 0 (anything else stops the frame with
 * LSTM_SE_ERR_MODEL). On the device it copies into the TFLite Micro input tensors, calls
 * Invoke() and copies the outputs back (docs/firmware.md); in the host tests it is the
 * exported model in TFLite Micro's Python interpreter. The state lives here, not in the
 * interpreter, so that lstm_se_reset() clears all of it.
 */
typedef int (*lstm_se_model_fn)(void *user, const lstm_se_q *features,
                                const lstm_se_q *state_in, lstm_se_q *mask,
                                lstm_se_q *state_out);

/* Every state of one stream. Declare it static (about 8 KB in float, 16 KB in double). */
typedef struct {
  uint32_t magic; /* set by lstm_se_init: a zeroed or foreign struct is refused */
  lstm_se_model_fn model;
  void *user;
  lstm_se_rfft fft;
  lstm_se_real history[LSTM_SE_DSP_N_FFT]; /* the last n_fft input samples */
  lstm_se_real acc[LSTM_SE_DSP_N_FFT];     /* overlap-add accumulator */
  lstm_se_real work[LSTM_SE_DSP_N_FFT];    /* FFT input (CMSIS overwrites it) / output */
  lstm_se_real spec[LSTM_SE_DSP_N_FFT];    /* packed spectrum: re0, re(n/2), re1, im1, ... */
  lstm_se_q features[LSTM_SE_DSP_N_BINS];
  lstm_se_q mask[LSTM_SE_DSP_N_BINS];
  lstm_se_q state[LSTM_SE_DSP_STATE_TOTAL];     /* carried state, as the state inputs take it */
  lstm_se_q state_out[LSTM_SE_DSP_STATE_TOTAL]; /* what the model call returned */
  uint32_t frames;                           /* frames since the last reset */
} lstm_se_t;

/* Set up `st` for the model call `model` (with `user` passed through) and reset it. */
int lstm_se_init(lstm_se_t *st, lstm_se_model_fn model, void *user);

/*
 * Start a new stream: zero history and overlap-add memory, every state input at its zero
 * point (a real 0, as TFLiteMasker.reset does). There is no normalization state: the
 * per-bin input normalization is folded into the model's first layer.
 */
int lstm_se_reset(lstm_se_t *st);

/*
 * One hop: `n` must be LSTM_SE_DSP_HOP. `in` holds samples in [-1, 1) (int16 / 32768);
 * `out` receives the finished hop. `in` and `out` may be the same buffer. On
 * LSTM_SE_ERR_MODEL the hop's output is zero and the stream should be reset.
 */
int lstm_se_process(lstm_se_t *st, const float *in, size_t n, float *out);

/* sizeof(lstm_se_t), for hosts that allocate it without the header (ctypes). */
size_t lstm_se_state_size(void);

/* A short English description of a return code. */
const char *lstm_se_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* LSTM_SE_H_ */
