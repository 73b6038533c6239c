// Loader hooks for @rocket.chat/rest-typings: its dist/ is ES module syntax
// with extensionless, directory and package-subpath imports (`./v1/Ajv`,
// `./apps`, `ajv/dist/2020`) in a package without "type":"module", as a
// bundler reads it. Node's ESM loader needs each spelled out, so imports from
// inside that package that Node cannot resolve are resolved as require() would.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const REST_TYPINGS = '/node_modules/@rocket.chat/rest-typings/dist/';

const inRestTypings = (url) => typeof url === 'string' && url.startsWith('file:') && url.includes(REST_TYPINGS);

export async function resolve(specifier, context, nextResolve) {
	try {
		return await nextResolve(specifier, context);
	} catch (error) {
		if (!inRestTypings(context.parentURL)) {
			throw error;
		}
		const path = createRequire(context.parentURL).resolve(specifier);
		return { url: pathToFileURL(path).href, shortCircuit: true };
	}
}

export async function load(url, context, nextLoad) {
	// Its files are modules whatever the package.json says.
	if (inRestTypings(url) && url.endsWith('.js')) {
		return nextLoad(url, { ...context, format: 'module' });
	}
	return nextLoad(url, context);
}
