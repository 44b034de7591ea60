# The ngrad native backend: OpenBLAS sgemm + C element-wise kernels behind N-API.
# Built by scripts/build-native.mjs (`node-gyp rebuild --directory node/native`);
# output: build/Release/ngrad_native.node.
{
  "variables": {
    # pkg-config knows where the distribution keeps OpenBLAS (Debian: an openblas-pthread subdirectory);
    # without it, fall back to Debian's layout and the default linker path.
    "openblas_cflags": "<!(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)",
    "openblas_libs": "<!(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)",
  },
  "targets": [
    {
      # NOTE: the kernels alone get -ffast-math, in their own static library, so that (1) addon.c keeps
      # IEEE semantics and (2) the flag never reaches the link step, where gcc 12 would add crtfastmath.o
      # and switch the whole Node process to flush-to-zero. -mno-recip: under -ffast-math gcc would otherwise
      # replace vectorised float division and sqrt by rcpps/rsqrtps estimates plus a Newton step, which lose
      # accuracy and turn 1/(1+Inf) (sigmoid of a very negative z) into NaN.
      "target_name": "ngrad_kernels",
      "type": "static_library",
      "sources": ["kernels.c"],
      "cflags": ["-O3", "-march=native", "-ffast-math", "-mno-recip", "-fPIC", "-std=c11", "-Wall", "-Wextra"],
    },
    {
      # NOTE: the compare-and-select kernels (clip, sign, bernoulli, the hard sigmoid's derivative) keep
      # IEEE semantics: -ffinite-math-only would let gcc turn their selects into a max/min that drops NaN,
      # and -fno-signed-zeros one that turns -0 into +0, so native would disagree with js and wasm. So do
      # the image kernels (kernels-image.c: max pooling compares, the average pool rounds as js does, and
      # -std=c11 keeps gcc from contracting a*b+c into an FMA).
      "target_name": "ngrad_ieee_kernels",
      "type": "static_library",
      "sources": ["kernels-ieee.c", "kernels-image.c"],
      "cflags": ["-O3", "-march=native", "-fPIC", "-std=c11", "-Wall", "-Wextra"],
    },
    {
      # NOTE: the direct convolutions are written with GCC's vector extension; -ffp-contract=fast (which
      # -std=c11 turns off) lets gcc fuse their multiply-adds, -march=native makes them AVX2 where it exists.
      "target_name": "ngrad_conv_kernels",
      "type": "static_library",
      "sources": ["conv-direct.c", "conv-direct-channels.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=fast", "-fPIC", "-std=c11", "-Wall", "-Wextra"],
    },
    {
      "target_name": "ngrad_native",
      "dependencies": ["ngrad_kernels", "ngrad_ieee_kernels", "ngrad_conv_kernels"],
      "sources": ["addon.c", "conv.c", "local.c", "threads.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "<@(openblas_cflags)"],
      # -lm links libm's linker script, which pulls in libmvec for the vectorised tanhf/expf.
      "libraries": ["<@(openblas_libs)", "-lm", "-lpthread"],
    },
  ],
}
