# quark_embed(TARGET FILE SYMBOL): compiles FILE into TARGET as
# `extern const char quark::SYMBOL[]`, its bytes and a NUL. The .cc is made
# in the build tree when FILE changes (cmake/embed_file.cmake), so the file
# stays itself in the repository (the status page: an HTML file to edit and
# lint as one) and no generated code is committed.
function(quark_embed target file symbol)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DSYMBOL=${symbol}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding ${file}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
