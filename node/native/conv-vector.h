/* 8-float vectors for the direct convolutions, in GCC's generic vector extension (any target; AVX2 FMA code
 * under -march=native where the machine has it). */
#ifndef NGRAD_CONV_VECTOR_H
#define NGRAD_CONV_VECTOR_H

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
#define LANES 8
#define LOAD(p) (*(const v8u *)(p))
#define STORE(p, v) (*(v8u *)(p) = (v))
/* Loads a streamed operand once into a register: gcc would otherwise fold it into each multiply-add that
 * uses it, one load each, and the loads, not the multiply-adds, would set the pace. */
#define IN_REGISTER(v) __asm__("" : "+x"(v))
#define SPLAT(s) ((v8){(s), (s), (s), (s), (s), (s), (s), (s)})

#endif
