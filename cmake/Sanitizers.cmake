# -DRAGD_SANITIZE=address,undefined builds everything (tests included) with those sanitizers.
if(RAGD_SANITIZE)
    add_compile_options(-fsanitize=${RAGD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${RAGD_SANITIZE})
endif()
