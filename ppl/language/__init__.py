"""Stage 1, the language: model text -> Lark tree -> AST (syntax), names, roles, types and shapes
checked (check, shapes), and the AST printed back as source (printer). Knows the distributions and
functions only through the tables it is handed."""
