//===- ir/Parser.cpp - Reads the text form of the ppc IR ------------------===//
//
// A line-oriented recursive-descent reader for the grammar that Printer.cpp
// writes. Each line is one declaration, one op, a stage header or the return.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"

#include "llvm/ADT/StringExtras.h"

using namespace ppc;
using llvm::StringRef;

namespace {

class ParseError {
public:
  std::string message;
};

/// Splits "a, (b, c), d" at top-level commas.
llvm::SmallVector<StringRef, 8> splitTopLevel(StringRef s) {
  llvm::SmallVector<StringRef, 8> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{')
      ++depth;
    else if (c == ')' || c == ']' || c == '}')
      --depth;
    else if (c == ',' && depth == 0) {
      parts.push_back(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  StringRef last = s.substr(start).trim();
  if (!last.empty())
    parts.push_back(last);
  return parts;
}

/// "Tensor:float32[2,16]" -> type "Tensor" and tensor info.
void parseType(StringRef text, Value &v) {
  auto [type, info] = text.split(':');
  v.type = type.str();
  if (info.empty())
    return;
  auto [dtype, shape] = info.split('[');
  v.tensor.dtype = dtype == "?" ? "" : dtype.str();
  if (shape.empty())
    return;
  v.tensor.hasShape = true;
  shape = shape.rtrim(']');
  llvm::SmallVector<StringRef, 4> dims;
  shape.split(dims, ',', -1, false);
  for (StringRef d : dims) {
    int64_t n = 0;
    if (d.trim().getAsInteger(10, n))
      throw ParseError{"bad dimension '" + d.str() + "'"};
    v.tensor.shape.push_back(n);
  }
}

class Parser {
public:
  explicit Parser(Graph &g) : g(g) {}
  /// Returns false at the end of the graph body.
  bool parseLine(StringRef line);

private:
  Value *resolve(StringRef ref);
  void parseHeader(StringRef line);
  void parseOp(StringRef line);
  void parseOpAttributes(StringRef text, Op &op);
  void parseReturn(StringRef line);

  Graph &g;
  int stage = -1;
};

Value *Parser::resolve(StringRef ref) {
  if (ref.size() < 2 || !StringRef("%$#").contains(ref[0]))
    throw ParseError{"expected a value reference, got '" + ref.str() + "'"};
  Value *v = g.lookup(ref.drop_front());
  if (!v)
    throw ParseError{"use of undefined value '" + ref.str() + "'"};
  return v;
}

void Parser::parseHeader(StringRef line) {
  StringRef args = line.drop_front(strlen("graph(")).rsplit(')').first;
  for (StringRef arg : splitTopLevel(args)) {
    auto [name, type] = arg.split(" : ");
    Value *v = g.addInput(name.trim().drop_front(), "");
    parseType(type.trim(), *v);
  }
}

void Parser::parseOpAttributes(StringRef text, Op &op) {
  llvm::SmallVector<StringRef, 4> attrs;
  text.split(attrs, ' ', -1, false);
  for (StringRef attr : attrs) {
    auto [key, value] = attr.split('=');
    llvm::SmallVector<StringRef, 4> items;
    value.split(items, ',', -1, false);
    if (key == "blocks") {
      op.hasBlocks = true;
    } else if (key == "inner") {
      for (StringRef item : items)
        op.innerModules.push_back(item.str());
    } else if (key == "writes") {
      for (StringRef item : items)
        op.writtenInputs.push_back(std::stoi(item.str()));
    } else if (key == "views") {
      for (size_t i = 0; i < items.size() && i < op.resultAliases.size(); ++i)
        op.resultAliases[i] = std::stoi(items[i].str());
    } else {
      throw ParseError{"unknown op attribute '" + key.str() + "'"};
    }
  }
}

void Parser::parseOp(StringRef line) {
  StringRef lhs, rhs = line;
  size_t eq = line.find(" = ");
  if (eq != StringRef::npos && line.startswith("%")) // results come first
    std::tie(lhs, rhs) = std::make_pair(line.take_front(eq), line.drop_front(eq + 3));
  size_t open = rhs.find('(');
  size_t close = rhs.rfind(')');
  if (open == StringRef::npos || close == StringRef::npos || close < open)
    throw ParseError{"expected 'kind(args)'"};
  StringRef kind = rhs.take_front(open).trim();
  llvm::SmallVector<Value *, 4> inputs;
  for (StringRef arg : splitTopLevel(rhs.slice(open + 1, close)))
    inputs.push_back(resolve(arg));
  llvm::SmallVector<std::pair<StringRef, StringRef>, 2> results;
  llvm::SmallVector<std::string, 2> types;
  for (StringRef res : splitTopLevel(lhs)) {
    auto [name, type] = res.split(" : ");
    results.push_back({name.trim(), type.trim()});
    types.push_back("");
  }
  StringRef tail = rhs.drop_front(close + 1).trim();
  StringRef path;
  if (tail.consume_front("@")) {
    std::tie(path, tail) = tail.split(' ');
    tail = tail.trim();
  }
  Op *op = g.addOp(kind, path, inputs, types);
  op->stage = stage;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!g.renameValue(op->results[i], results[i].first.drop_front()))
      throw ParseError{"value '" + results[i].first.str() + "' defined twice"};
    parseType(results[i].second, *op->results[i]);
  }
  if (tail.consume_front("[")) {
    parseOpAttributes(tail.rtrim(']'), *op);
  }
}

void Parser::parseReturn(StringRef line) {
  StringRef args = line.drop_front(strlen("return")).trim();
  args = args.drop_front().drop_back(); // the parentheses
  for (StringRef arg : splitTopLevel(args))
    g.addOutput(resolve(arg));
}

bool Parser::parseLine(StringRef line) {
  line = line.split(';').first.trim(); // ';' starts a comment
  if (line.empty())
    return true;
  if (line.startswith("graph(")) {
    parseHeader(line);
  } else if (line.consume_front("modules ")) {
    for (StringRef m : splitTopLevel(line))
      g.modules.push_back(m.str());
  } else if (line.consume_front("splits ")) {
    for (StringRef spec : splitTopLevel(line)) {
      auto [path, where] = spec.rsplit(':');
      if (where != "begin" && where != "end")
        throw ParseError{"bad split '" + spec.str() + "'"};
      g.splits.push_back({path.str(), where == "end"});
    }
  } else if (line.consume_front("param ")) {
    auto [name, type] = line.split(" : ");
    Value *v = g.addParam(name.trim().drop_front(), "");
    parseType(type.trim(), *v);
  } else if (line.consume_front("const ")) {
    auto [decl, literal] = line.split(" = ");
    auto [name, type] = decl.split(" : ");
    Value *v = g.addConstant("", literal.trim());
    if (!g.renameValue(v, name.trim().drop_front()))
      throw ParseError{"constant '" + name.str() + "' defined twice"};
    parseType(type.trim(), *v);
  } else if (line.consume_front("stage ")) {
    if (line.rtrim(':').getAsInteger(10, stage))
      throw ParseError{"bad stage header"};
    g.numStages = std::max(g.numStages, stage + 1);
  } else if (line.startswith("return")) {
    parseReturn(line);
  } else if (line == "}") {
    return false;
  } else {
    parseOp(line);
  }
  return true;
}

} // namespace

std::unique_ptr<Graph> ppc::parseGraph(StringRef text, std::string &error) {
  auto g = std::make_unique<Graph>();
  Parser parser(*g);
  llvm::SmallVector<StringRef, 64> lines;
  text.split(lines, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    try {
      if (!parser.parseLine(lines[i]))
        return g;
    } catch (const ParseError &e) {
      error = "line " + std::to_string(i + 1) + ": " + e.message;
      return nullptr;
    } catch (const std::exception &e) {
      error = "line " + std::to_string(i + 1) + ": " + e.what();
      return nullptr;
    }
  }
  error = "missing closing '}'";
  return nullptr;
}
