# Run by quark_embed (cmake/embed.cmake): writes OUT, a C++ source defining
# `const char quark::SYMBOL[]` as the bytes of IN and a NUL. Bytes, not a raw
# string literal, so that no content of IN can end it early.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# Sixteen bytes a line (CMake's regular expressions have no {16}).
string(REPEAT "'[^']*'," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUT}
  "// Made by cmake/embed_file.cmake from ${IN}; do not edit.\n"
  "namespace quark {\n"
  "extern const char ${SYMBOL}[];\n"
  "const char ${SYMBOL}[] = {\n    ${bytes}'\\0'};\n"
  "}  // namespace quark\n")
