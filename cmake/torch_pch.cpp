// Compiles the shared LibTorch precompiled header once; every LibTorch target reuses it (see CMakeLists.txt).
int diffscope_torch_pch_anchor() { return 0; }
